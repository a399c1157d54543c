"""PostgreSQL text cannot hold NUL (0x00): a request carrying one in a query parameter, a form
field or a JSON body is refused up front with a clear 400, instead of failing with a 500
wherever the value reaches the database (SQLite would have stored it silently)."""

from flask import Flask, abort, request
from flask_babel import gettext as _

NUL = "\x00"
# Signed webhooks read their raw body themselves (size limit, signature first) and check it.
_RAW_BODY_PREFIXES = ("/api/v1/hooks/",)


def nul_paths(value, prefix: str = "") -> list[str]:
    """The dotted paths of the strings (keys or values) in `value` that contain NUL."""
    if isinstance(value, str):
        return [prefix or "_body"] if NUL in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(key, str) and NUL in key:
                found.append(name)
            found.extend(nul_paths(item, name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(nul_paths(item, f"{prefix}.{i}" if prefix else str(i)))
    return found


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul)


def _refuse_nul():
    fields = [
        *(name for name, v in request.args.items(multi=True) if NUL in name or NUL in v),
    ]
    if request.method in ("POST", "PUT", "PATCH") and not request.path.startswith(_RAW_BODY_PREFIXES):
        fields += [name for name, v in request.form.items(multi=True) if NUL in name or NUL in v]
        if request.is_json:
            fields += nul_paths(request.get_json(silent=True))
    if not fields:
        return None
    message = _("文本中不能包含 NUL (0x00) 字符")
    if request.path.startswith("/api/"):
        from backend.api.problems import problem

        return problem(400, _("请求包含无效字符"), message, errors={f: [message] for f in fields})
    abort(400, description=message)
