"""Finding people by name for the pickers of the task page (转办, 委托, 抄送, 加签)."""

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from backend.org.models import Department, Region, Unit, User
from backend.org.service import _has_role

MAX_RESULTS = 20


def search(*, session, query: str = "", group: str = "", limit: int = MAX_RESULTS) -> list[dict]:
    """Active people whose username or display name contains `query` (any case), optionally
    only those of candidate group `group` ('<department>.<role>', 'unit.<id>' or a plain
    role, as User.groups defines it): exact and prefix username matches first. Nothing
    without a query or a group, so the directory is never listed whole."""
    query, group = (query or "").strip(), (group or "").strip()
    if not query and not group:
        return []
    region = aliased(Region)
    stmt = (
        sa.select(
            User.username,
            User.display_name,
            Department.name.label("department"),
            Unit.name.label("unit"),
            region.name.label("region"),
        )
        .outerjoin(Department, User.department_id == Department.id)
        .outerjoin(Unit, User.unit_id == Unit.id)
        .outerjoin(
            region,
            region.code == sa.func.coalesce(User.region_code, Department.region_code, Unit.region_code),
        )
        .where(User.active.is_(True))
    )
    if query:
        needle = query.lower()
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(User.username).contains(needle, autoescape=True),
                sa.func.lower(User.display_name).contains(needle, autoescape=True),
            )
        ).order_by(
            sa.case(
                (sa.func.lower(User.username) == needle, 0),
                (sa.func.lower(User.username).startswith(needle, autoescape=True), 1),
                else_=2,
            )
        )
    if group:
        condition = _group_condition(session, group)
        if condition is None:
            return []
        stmt = stmt.where(condition)
    rows = session.execute(stmt.order_by(User.username).limit(max(1, min(limit, MAX_RESULTS)))).all()
    return [
        {
            "username": row.username,
            "display_name": row.display_name,
            "department": row.department or row.unit,
            "region": row.region,
        }
        for row in rows
    ]


def _group_condition(session, group: str):
    """SQL for membership of a candidate group, the way User.groups defines it."""
    prefix, dot, rest = group.partition(".")
    if dot and prefix == "unit":
        return User.unit_id == int(rest) if rest.isdigit() else None
    if dot:
        return sa.and_(Department.code == prefix, _has_role(session, rest))
    return _has_role(session, group)
