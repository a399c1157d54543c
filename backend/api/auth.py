"""Who calls the API: an API key (`Authorization: Bearer <key>`) acting as its owner, or the
browser session. View layer: refusals are problem documents in the request's language."""

from dataclasses import dataclass

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from backend.api import keys
from backend.api.models import ApiKey
from backend.api.problems import problem
from backend.authz.scope import Scope, business_key_in, instance_in, narrowed, project_in, task_in
from backend.db import utcnow
from backend.extensions import db
from backend.org.models import Region, User
from backend.org.service import get_user
from backend.projects.models import Project


class Refused(Exception):
    """Raised inside an operation to answer with a problem document."""

    def __init__(self, response):
        self.response = response
        super().__init__(response.status)


@dataclass
class Principal:
    user: User
    key: ApiKey | None
    # None: the browser session, which is bound by the person's own permissions only.
    scopes: frozenset[str] | None
    region_code: str | None
    _regions: set[str] | None = None
    # The person's data scope (backend.authz.scope), narrowed by the key's region: what every
    # read and write of the API is checked against (set by `authenticate`).
    scope: Scope | None = None

    @property
    def regions(self) -> set[str] | None:
        """The key's region and every region under it; None: no key region (the person's own
        scope still applies, through `scope`)."""
        if self.region_code is None:
            return None
        if self._regions is None:
            self._regions = keys.region_codes(session=db.session, region_code=self.region_code)
        return self._regions

    @property
    def whole_tree(self) -> bool:
        """A key of a top-level region sees data tied to no region too (e.g. processes that
        are not about a project)."""
        if self.region_code is None:
            return True
        region = db.session.get(Region, self.region_code)
        return region is not None and region.parent_code is None

    def sees_region(self, code: str | None) -> bool:
        """Within the key's region (a filter or a new application's region)."""
        regions = self.regions
        if regions is None:
            return True
        return code in regions if code is not None else self.whole_tree

    def sees_business_key(self, business_key: str | None) -> bool:
        """Instances and tasks belong to their project (business key = 项目代码)."""
        return business_key_in(self.scope, business_key, session=db.session)

    def require_region(self, code: str | None) -> None:
        if not self.sees_region(code):
            raise Refused(forbidden_region())

    def require_business_key(self, business_key: str | None, *, what: str | None = None) -> None:
        """Out of scope reads as not found (existence is not revealed); `what` names it."""
        if not self.sees_business_key(business_key):
            raise Refused(not_found(what or _("业务键不存在: %(key)s", key=business_key)))

    def require_project(self, project: Project, *, what: str) -> None:
        if not project_in(self.scope, project):
            raise Refused(not_found(what))

    def require_instance(self, instance, *, what: str) -> None:
        if not instance_in(self.scope, instance, session=db.session):
            raise Refused(not_found(what))

    def require_task(self, task, *, what: str) -> None:
        if not task_in(self.scope, task, session=db.session):
            raise Refused(not_found(what))


def not_found(detail: str):
    return problem(404, _("资源不存在"), detail)


def forbidden_region():
    return problem(403, _("无权访问"), _("该 API 密钥无权访问此行政区划的数据"))


def _unauthorized(detail: str):
    return problem(401, _("未认证"), detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


_REFUSALS = {
    "missing": lambda: _("缺少 API 密钥: 请在 Authorization 头中使用 Bearer 密钥, 或先登录"),
    "unknown": lambda: _("API 密钥无效"),
    "revoked": lambda: _("API 密钥已被吊销"),
    "expired": lambda: _("API 密钥已过期"),
}


def authenticate(scope: str) -> Principal:
    """The caller of this request with `scope`, or raises Refused (401/403)."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _sep, token = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise Refused(_unauthorized(_REFUSALS["unknown"]()))
        now = utcnow()
        found = keys.find_key(session=db.session, token=token.strip(), now=now)
        if isinstance(found, keys.Refusal):
            raise Refused(_unauthorized(_REFUSALS[found.reason]()))
        user = get_user(session=db.session, username=found.owner)
        if user is None or not user.active:
            raise Refused(_unauthorized(_("API 密钥的所属用户不存在或已停用")))
        _record_use(found, now)
        if scope not in (found.scopes or []):
            raise Refused(
                problem(403, _("无权访问"), _("该 API 密钥没有权限范围 %(scope)s", scope=scope), scope=scope)
            )
        principal = Principal(
            user=user, key=found, scopes=frozenset(found.scopes), region_code=found.region_code
        )
    elif current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS") and current_app.config.get(
            "WTF_CSRF_ENABLED", True
        ):
            from backend.accounts import csrf

            csrf.protect()  # the session's writes need the token, as every form of the site
        principal = Principal(
            user=current_user._get_current_object(), key=None, scopes=None, region_code=None
        )
    else:
        raise Refused(_unauthorized(_REFUSALS["missing"]()))
    _apply_person(principal, scope)
    g.api_principal = principal
    return principal


def _apply_person(principal: Principal, scope: str) -> None:
    """The person behind the call (session or key owner) bounds it: the operation group's
    permission (backend.authz), and their data scope (a key's region narrows it further)."""
    from backend.authz import has_permission
    from backend.authz.permissions import API_SCOPE_PERMISSIONS
    from backend.authz.scope import scope_of

    needed = API_SCOPE_PERMISSIONS.get(scope)
    if needed is not None and not has_permission(principal.user, needed):
        raise Refused(problem(403, _("无权访问"), _("您没有执行此操作的权限")))
    person = scope_of(principal.user, session=db.session)
    if principal.region_code is None:  # the session, or a key of no region: the person's scope
        principal.scope = person
    else:
        principal.scope = narrowed(person, regions=principal.regions, whole_tree=principal.whole_tree)


def _record_use(key: ApiKey, now) -> None:
    """last_used_at at most once a minute, committed at once in a transaction of its own (a
    read request commits nothing else; a write request's work begins after it). Best effort:
    on SQLite a read transaction cannot take the write lock once another writer committed
    since it began; the use is then recorded by a later request."""
    if not keys.needs_touch(key, now):
        return
    try:
        db.session.execute(keys.touch_statement(key.id, now))
        db.session.commit()
    except OperationalError:
        db.session.rollback()
