"""Demo: the built-in roles and their default grants (after the demo people)."""

from backend.authz.service import seed_roles
from backend.demo import loader


@loader
def load_roles(*, session) -> int:
    """角色和权限 (roles and permissions)"""
    return seed_roles(session=session)
