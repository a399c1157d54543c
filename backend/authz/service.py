"""Roles, grants and role assignment: the security admin's work, with the separation rules.

Keyword-only functions over a session; they flush, never commit. Every change is audited.
"""

import sqlalchemy as sa

from backend.authz.models import Role, RolePermission
from backend.authz.permissions import (
    ADMIN_ONLY,
    ADMIN_ROLES,
    BUSINESS_ACTIONS,
    DEFAULT_GRANTS,
    PERMISSIONS,
    ROLE_NAMES,
)
from backend.org.models import User


class AuthzError(Exception):
    """A refused change: a Chinese message id and its parameters (the view translates)."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


def seed_roles(*, session) -> int:
    """Insert the built-in roles that are missing, with their default grants (idempotent; the
    grants of a role already stored are the security admin's and are left alone)."""
    stored = set(session.scalars(sa.select(Role.code)))
    created = 0
    for code, name in ROLE_NAMES.items():
        if code in stored:
            continue
        session.add(Role(code=code, name=name, builtin=True))
        session.flush()
        for perm in sorted(DEFAULT_GRANTS.get(code, ())):
            session.add(RolePermission(role=code, permission=perm))
        created += 1
    session.flush()
    return created


def list_roles(*, session) -> list[Role]:
    """The stored roles and the built-in ones not stored yet (unsaved rows: reading writes nothing)."""
    stored = {role.code: role for role in session.scalars(sa.select(Role))}
    for code, name in ROLE_NAMES.items():
        stored.setdefault(code, Role(code=code, name=name, builtin=True))
    return sorted(stored.values(), key=lambda role: (not role.builtin, role.code))


def grants_of(*, session, role: str) -> set[str]:
    return set(session.scalars(sa.select(RolePermission.permission).where(RolePermission.role == role)))


def _role(session, code: str) -> Role:
    seed_roles(session=session)
    role = session.get(Role, code)
    if role is None:
        raise AuthzError("角色 %(role)s 不存在", role=code)
    return role


def _refuse_admin_grants(role: str, permission: str) -> None:
    if role in ADMIN_ROLES:
        raise AuthzError("管理员角色的权限是固定的 (三员分立), 不能修改")
    if any(permission in perms for perms in ADMIN_ONLY.values()):
        raise AuthzError("管理员专有权限不能授予业务角色")


def grant(*, session, role: str, permission: str, actor: User) -> bool:
    """Grant `permission` to `role`; False when it already had it."""
    from backend.audit import record

    _role(session, role)
    if permission not in PERMISSIONS:
        raise AuthzError("权限 %(permission)s 不存在", permission=permission)
    _refuse_admin_grants(role, permission)
    if session.get(RolePermission, (role, permission)) is not None:
        return False
    session.add(RolePermission(role=role, permission=permission))
    session.flush()
    record(
        "role.grant",
        object_type="role",
        object_id=role,
        detail={"permission": permission},
        user=actor,
        session=session,
    )
    _clear()
    return True


def revoke(*, session, role: str, permission: str, actor: User) -> bool:
    from backend.audit import record

    _role(session, role)
    _refuse_admin_grants(role, permission)
    row = session.get(RolePermission, (role, permission))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    record(
        "role.revoke",
        object_type="role",
        object_id=role,
        detail={"permission": permission},
        user=actor,
        session=session,
    )
    _clear()
    return True


def set_grants(*, session, role: str, permissions: set[str], actor: User) -> tuple[set[str], set[str]]:
    """Make the role's grants exactly `permissions`; returns (granted, revoked)."""
    current = grants_of(session=session, role=_role(session, role).code)
    added, removed = set(permissions) - current, current - set(permissions)
    for perm in sorted(added):
        grant(session=session, role=role, permission=perm, actor=actor)
    for perm in sorted(removed):
        revoke(session=session, role=role, permission=perm, actor=actor)
    return added, removed


def create_role(*, session, code: str, name: str, actor: User) -> Role:
    """A new business role (also usable as a candidate group of BPMN lanes)."""
    from backend.audit import record

    code = (code or "").strip()
    name = (name or "").strip()
    if not code or not code.replace("_", "").isalnum() or not code.isascii() or "." in code or len(code) > 40:
        raise AuthzError("角色代码只能由字母、数字和下划线组成 (最多 40 个字符)")
    if not name:
        raise AuthzError("请填写角色名称")
    seed_roles(session=session)
    if session.get(Role, code) is not None or code == "admin":
        raise AuthzError("角色 %(role)s 已存在", role=code)
    role = Role(code=code, name=name[:60], builtin=False)
    session.add(role)
    session.flush()
    record(
        "role.create", object_type="role", object_id=code, detail={"name": name}, user=actor, session=session
    )
    _clear()
    return role


def check_assignment(*, actor: User, target: User, roles: list[str]) -> None:
    """The separation rules of role assignment (raises AuthzError):
    - nobody changes their own roles;
    - admin roles are not assigned or taken away here (set at installation: `flask roles admin`),
      and an admin's account keeps its one role;
    - an admin role is never combined with a business role or another admin role."""
    if actor is not None and target.id == actor.id:
        raise AuthzError("不能修改自己的角色")
    old_admin = set(target.roles or []) & set(ADMIN_ROLES)
    new_admin = set(roles) & set(ADMIN_ROLES)
    if old_admin or new_admin:
        raise AuthzError("管理员角色 (系统管理员、安全管理员、审计管理员) 不能在此分配或撤销")
    _check_combination(roles)


def _check_combination(roles: list[str]) -> None:
    admin = [r for r in roles if r in ADMIN_ROLES]
    if admin and len(set(roles)) > 1:
        raise AuthzError("管理员角色不能与其他角色兼任 (三员分立)")


def assign_roles(*, session, user: User, roles: list[str], actor: User) -> tuple[set[str], set[str]]:
    """Give `user` exactly `roles` (business roles); returns (added, removed). Audited."""
    from backend.audit import record

    seed_roles(session=session)
    known = set(session.scalars(sa.select(Role.code)))
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise AuthzError("角色 %(role)s 不存在", role=", ".join(unknown))
    check_assignment(actor=actor, target=user, roles=roles)
    old = set(user.roles or [])
    new = list(dict.fromkeys(roles))
    added, removed = set(new) - old, old - set(new)
    if not added and not removed:
        return added, removed
    user.roles = new
    session.flush()
    record(
        "role.assign",
        object_type="user",
        object_id=user.username,
        detail={"added": sorted(added), "removed": sorted(removed), "roles": new},
        user=actor,
        session=session,
    )
    _clear()
    return added, removed


def make_admin(*, session, user: User, role: str) -> None:
    """Installation: make `user` one of the three admins (`flask roles admin`). The account must
    hold no other role."""
    from backend.audit import record

    if role not in ADMIN_ROLES:
        raise AuthzError("%(role)s 不是管理员角色", role=role)
    others = set(user.roles or []) - {role}
    if others:
        raise AuthzError("管理员角色不能与其他角色兼任 (三员分立)")
    user.roles = [role]
    session.flush()
    record(
        "role.assign",
        object_type="user",
        object_id=user.username,
        detail={"roles": [role]},
        username="cli",
        session=session,
    )


def business_action_refused(user) -> bool:
    """An admin may not claim, complete, approve, sign or start (三员分立)."""
    from backend.authz import is_admin

    return is_admin(user)


def _clear() -> None:
    from backend.authz import clear_cache

    clear_cache()


__all__ = [
    "BUSINESS_ACTIONS",
    "AuthzError",
    "assign_roles",
    "create_role",
    "grant",
    "list_roles",
    "make_admin",
    "revoke",
    "seed_roles",
    "set_grants",
]
