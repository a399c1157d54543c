"""Authorization: permissions held through roles, the three-admin separation, data scope.

- `has_permission(user, perm)`: what the person's roles grant (the `role_permission` table,
  read once per request; a role with no `role` row yet has its default grants).
- `require_permission(perm)`: a view decorator. Not signed in: the sign-in page (pages) or a
  401 problem (/api/); signed in without the permission: a 403 page in the user's language or
  a 403 problem.
- `backend.authz.scope`: which projects, instances and tasks a person may see.
"""

from functools import wraps

from flask import Flask, has_request_context, render_template, request
from flask_login import current_user

from backend.authz.permissions import (
    ADMIN_ONLY,
    ADMIN_ROLES,
    BUSINESS_ACTIONS,
    DEFAULT_GRANTS,
    PERMISSIONS,
    ROLE_NAMES,
)

__all__ = [
    "ADMIN_ROLES",
    "PERMISSIONS",
    "ROLE_NAMES",
    "forbidden",
    "has_permission",
    "init_app",
    "is_admin",
    "permissions_of",
    "require_permission",
    "role_grants",
]


def role_grants(*, session) -> dict[str, frozenset[str]]:
    """Role code → its granted permissions: the tables, over the defaults for roles not stored."""
    import sqlalchemy as sa

    from backend.authz.models import Role, RolePermission

    grants = dict(DEFAULT_GRANTS)
    stored = set(session.scalars(sa.select(Role.code)))
    if stored:
        found: dict[str, set[str]] = {code: set() for code in stored}
        for role, permission in session.execute(sa.select(RolePermission.role, RolePermission.permission)):
            found.setdefault(role, set()).add(permission)
        grants.update({code: frozenset(perms) for code, perms in found.items()})
    return grants


def request_cache() -> dict | None:
    """A dict living as long as this request (not `g`: tests share one app context across
    requests), or None outside a request."""
    if not has_request_context():
        return None
    return request.environ.setdefault("backend.authz", {})


def _grants() -> dict[str, frozenset[str]]:
    from backend.extensions import db

    cache = request_cache()
    if cache is None:
        return role_grants(session=db.session)
    if "grants" not in cache:
        cache["grants"] = role_grants(session=db.session)
    return cache["grants"]


def clear_cache() -> None:
    cache = request_cache()
    if cache is not None:
        cache.clear()


def is_admin(user) -> bool:
    return bool(set(getattr(user, "roles", None) or []) & set(ADMIN_ROLES))


def permissions_of(user, *, grants: dict[str, frozenset[str]] | None = None) -> frozenset[str]:
    """Everything the person's roles grant, within the separation rules: an admin permission
    counts only through its own admin role, and a person holding an admin role never gets a
    business action (claim, complete, approve, sign, start), whatever is stored."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
        return frozenset()
    grants = _grants() if grants is None else grants
    roles = list(getattr(user, "roles", None) or [])
    held: set[str] = set()
    for role in roles:
        for perm in grants.get(role, ()):
            owner = next((admin for admin, perms in ADMIN_ONLY.items() if perm in perms), None)
            if owner is None or owner == role:
                held.add(perm)
    if is_admin(user):
        held -= BUSINESS_ACTIONS
    return frozenset(held)


def has_permission(user, perm: str) -> bool:
    return perm in permissions_of(user)


def forbidden(message: str | None = None):
    """The 403 answer of this request: a problem document under /api/, else a page."""
    from flask_babel import gettext as _

    from backend.api.problems import is_api_request, problem

    detail = message or _("您没有执行此操作的权限")
    if is_api_request():
        return problem(403, _("无权访问"), detail)
    return render_template("authz/forbidden.html", message=detail), 403


def visible_project_or_404(code: str):
    """The project with this code when the signed-in person's data scope includes it; else 404
    (out of scope reads as "does not exist")."""
    import sqlalchemy as sa
    from flask import abort

    from backend.authz.scope import sees_project
    from backend.extensions import db
    from backend.projects.models import Project

    project = db.session.scalar(sa.select(Project).where(Project.code == code))
    if project is None or not sees_project(current_user, project, session=db.session):
        abort(404)
    return project


def _unauthenticated():
    from flask_babel import gettext as _

    from backend.accounts import login_manager
    from backend.api.problems import is_api_request, problem

    if is_api_request():
        return problem(401, _("未认证"), _("请先登录"), headers={"WWW-Authenticate": 'Bearer realm="api"'})
    return login_manager.unauthorized()


def require_permission(perm: str):
    """View decorator: signed in and holding `perm`. Also usable on a blueprint's before_request."""
    if perm not in PERMISSIONS:
        raise ValueError(f"unknown permission {perm!r}: add it to backend/authz/permissions.py")

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return _unauthenticated()
            if not has_permission(current_user, perm):
                _record_denied(perm)
                return forbidden()
            return view(*args, **kwargs)

        wrapper.required_permission = perm
        return wrapper

    return decorate


def _record_denied(perm: str) -> None:
    from backend.audit import record

    try:
        record(
            "access.denied",
            result="denied",
            object_type="route",
            object_id=request.path,
            detail={"permission": perm, "method": request.method},
        )
    except Exception:  # auditing a refusal must never turn it into a 500
        import logging

        logging.getLogger(__name__).exception("could not audit a refused request")


def init_app(app: Flask) -> None:
    from backend.authz import demo, views  # noqa: F401  (demo registers its loader)
    from backend.authz.cli import roles_cli

    app.register_blueprint(views.bp)
    app.cli.add_command(roles_cli)

    @app.context_processor
    def _authz_helpers():
        return {"can": lambda perm: has_permission(current_user, perm)}
