"""RFC 9457 problem details (`application/problem+json`) for everything under /api/v1.

`problem()` builds one; `init_app` makes every 4xx/5xx of an API path (unknown route, wrong
method, bad JSON, body too large, CSRF, an unhandled error) a problem document, never HTML.
Titles and details are in the request's language (the i18n locale selector: session, then
Accept-Language, Chinese by default).
"""

import logging

from flask import Flask, Response, json, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

API_PREFIX = "/api/v1"
MEDIA_TYPE = "application/problem+json"

log = logging.getLogger(__name__)

# The title of a status when the caller gives none (about:blank: the status is the problem).
TITLES = {
    400: _l("请求无效"),
    401: _l("未认证"),
    403: _l("无权访问"),
    404: _l("资源不存在"),
    405: _l("不支持该请求方法"),
    406: _l("无法提供请求的格式"),
    409: _l("资源状态冲突"),
    413: _l("请求体过大"),
    415: _l("不支持的媒体类型"),
    422: _l("请求数据校验失败"),
    429: _l("请求过于频繁"),
    500: _l("服务器内部错误"),
    503: _l("服务暂不可用"),
}


def problem(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    **extensions,
) -> Response:
    """A problem document response. `errors` maps a field (dotted path for nested ones) to its
    messages; `extensions` become extra members (e.g. `instance`, `task_id`)."""
    body: dict = {"type": type_, "title": str(title or default_title(status)), "status": status}
    if detail:
        body["detail"] = str(detail)
    if errors:
        body["errors"] = {field: [str(m) for m in messages] for field, messages in errors.items()}
    for key, value in extensions.items():
        body[key] = str(value) if hasattr(value, "__html__") or _is_lazy(value) else value
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    response.headers["Content-Language"] = _content_language()
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def default_title(status: int) -> str:
    title = TITLES.get(status)
    if title is not None:
        return str(title)
    return _("请求无效") if status < 500 else _("服务器内部错误")


def is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def init_app(app: Flask) -> None:
    """App-level handlers: a blueprint's own handlers never see routing errors (404/405)."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)


def _http_error(exc: HTTPException):
    if not is_api_request():
        return exc  # the site's pages keep werkzeug's HTML
    status = exc.code or 500
    if status >= 500:
        return _server_error(exc)
    detail = None
    extensions = {}
    if status == 400 and type(exc).__name__ == "CSRFError":
        title, detail = _("CSRF 令牌无效"), _("浏览器会话的写请求需要 CSRF 令牌; API 密钥请求不需要")
    elif status == 400:
        title, detail = default_title(400), _("请求体不是有效的 JSON 或参数有误")
    elif status == 404:
        title, detail = default_title(404), _("找不到请求的路径: %(path)s", path=request.path)
    elif status == 405:
        title = default_title(405)
        allowed = sorted(getattr(exc, "valid_methods", None) or [])
        detail = _("该路径不支持 %(method)s 方法", method=request.method)
        if allowed:
            extensions["allowed_methods"] = allowed
    elif status == 413:
        title, detail = default_title(413), _("请求体超过了允许的大小")
    else:
        title = default_title(status)
    passed_on = dict(exc.get_headers())
    headers = {k: passed_on[k] for k in ("Allow", "WWW-Authenticate", "Retry-After") if k in passed_on}
    return problem(status, title, detail, headers=headers, **extensions)


def _server_error(exc: HTTPException):
    if not is_api_request():
        return exc
    original = getattr(exc, "original_exception", None)
    if original is not None:
        log.error("API %s %s 出错", request.method, request.path, exc_info=original)
    return problem(500, default_title(500), _("请求未能完成, 请稍后重试或联系管理员"))


def _content_language() -> str:
    from backend.i18n import current_language

    try:
        return current_language()
    except Exception:  # outside a request with babel (never expected): the default language
        return "zh"


def _is_lazy(value) -> bool:
    return type(value).__name__ == "LazyString"
