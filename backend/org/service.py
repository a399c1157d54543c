"""Who is who: administrative divisions, departments and the people behind candidate groups.

Plain keyword-only functions over the session; none commits.
"""

import re

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import contains_eager, selectinload

from backend.forms.choices import choice_source
from backend.org import regions
from backend.org.credit_code import normalize_credit_code, validate_credit_code
from backend.org.errors import RegionNotFound
from backend.org.models import Department, Region, Unit, User

__all__ = [
    "DEPARTMENTS",
    "active_members",
    "descendant_codes",
    "experts",
    "get_user",
    "normalize_credit_code",
    "region_path",
    "seed_departments",
    "seed_regions",
    "users_in_group",
    "validate_credit_code",
    "validate_region_code",
]

# The departments taking part in approvals; their codes are the prefixes of candidate
# groups in BPMN ("fgw.reviewer"), so they are platform data, not demo data.
DEPARTMENTS = (
    ("fgw", "浙江省发展和改革委员会", "发改"),
    ("cz", "浙江省财政厅", "财政"),
    ("zj", "浙江省住房和城乡建设厅", "住建"),
    ("zrzy", "浙江省自然资源厅", "自然资源"),
    ("sthj", "浙江省生态环境厅", "生态环境"),
    ("sj", "浙江省审计厅", "审计"),
)

_SIX_DIGITS = re.compile(r"[0-9]{6}")


# --- 行政区划 ------------------------------------------------------------------------------


def seed_regions(*, session) -> int:
    """Insert the divisions of regions.py that are missing and correct names and parents of
    the others; returns how many were created."""
    existing = {region.code: region for region in session.scalars(sa.select(Region))}
    created = 0
    for code, name, level, parent_code in regions.all_regions():
        region = existing.get(code)
        if region is None:
            session.add(Region(code=code, name=name, level=level, parent_code=parent_code))
            created += 1
        elif (region.name, region.level, region.parent_code) != (name, level, parent_code):
            region.name, region.level, region.parent_code = name, level, parent_code
    session.flush()
    return created


def validate_region_code(code: str) -> bool:
    """True for a 6-digit division code of GB/T 2260 shape (province xx0000, city xxyy00,
    county xxyyzz). For the province this platform carries (浙江), the code must also be one
    in force today: abolished codes such as 330103 (下城区) are refused."""
    if not isinstance(code, str) or not _SIX_DIGITS.fullmatch(code):
        return False
    if code[:2] not in regions.PROVINCE_PREFIXES:
        return False
    if code[2:4] == "00" and code[4:] != "00":
        return False
    if code[:2] == regions.PROVINCE[0][:2]:
        return code in regions.KNOWN_CODES
    return True


def region_path(*, session, code: str) -> list[Region]:
    """The chain from the province down to `code`: [province, city, county] (shorter above)."""
    up = (
        sa.select(Region.code, Region.parent_code, sa.literal(0).label("depth"))
        .where(Region.code == code)
        .cte("region_up", recursive=True)
    )
    up = up.union_all(
        sa.select(Region.code, Region.parent_code, up.c.depth + 1).join(up, Region.code == up.c.parent_code)
    )
    path = session.scalars(
        sa.select(Region).join(up, Region.code == up.c.code).order_by(up.c.depth.desc())
    ).all()
    if not path:
        raise RegionNotFound(code)
    return list(path)


def descendant_codes(*, session, code: str) -> set[str]:
    """`code` and every division under it, in one recursive query (data scope filters on it)."""
    down = sa.select(Region.code).where(Region.code == code).cte("region_down", recursive=True)
    down = down.union_all(sa.select(Region.code).join(down, Region.parent_code == down.c.code))
    codes = set(session.scalars(sa.select(down.c.code)))
    if not codes:
        raise RegionNotFound(code)
    return codes


# --- departments and people ------------------------------------------------------------------


def seed_departments(*, session) -> int:
    """Insert the approval departments that are missing; returns how many were created."""
    existing = set(session.scalars(sa.select(Department.code)))
    created = 0
    for code, name, short_name in DEPARTMENTS:
        if code not in existing:
            session.add(
                Department(code=code, name=name, short_name=short_name, region_code=regions.PROVINCE[0])
            )
            created += 1
    session.flush()
    return created


def get_user(*, session, username: str) -> User | None:
    """The person with this username, or None."""
    return session.scalar(sa.select(User).filter_by(username=username))


def users_in_group(*, session, group: str) -> list[User]:
    """Active people of a candidate group, as User.groups defines it: '<department>.<role>'
    (staff of that department with the role), 'unit.<id>' (people of the unit) or a plain
    role (anyone with it, in any department)."""
    query = (
        sa.select(User).where(User.active.is_(True)).options(selectinload(User.department)).order_by(User.id)
    )
    prefix, dot, rest = group.partition(".")
    if dot and prefix == "unit":
        if not rest.isdigit():
            return []
        query = query.where(User.unit_id == int(rest))
    elif dot:
        query = query.join(Department, User.department_id == Department.id).where(
            Department.code == prefix, _has_role(session, rest)
        )
    else:
        query = query.where(_has_role(session, group))
    # The SQL narrows; User.groups stays the one definition of membership.
    return [user for user in session.scalars(query) if group in user.groups]


def active_members(*, session, groups=(), usernames=()) -> list[User]:
    """Active people who are one of `usernames` or in any of `groups`, in one query (a
    countersign opens many tasks at once); `User.groups` tells who is in which group."""
    groups, usernames = set(filter(None, groups)), set(filter(None, usernames))
    conditions = [User.username.in_(sorted(usernames))] if usernames else []
    for group in sorted(groups):
        prefix, dot, rest = group.partition(".")
        if dot and prefix == "unit":
            if rest.isdigit():
                conditions.append(User.unit_id == int(rest))
        elif dot:
            conditions.append(sa.and_(Department.code == prefix, _has_role(session, rest)))
        else:
            conditions.append(_has_role(session, group))
    if not conditions:
        return []
    query = (
        sa.select(User)
        .outerjoin(Department, User.department_id == Department.id)
        .options(contains_eager(User.department))
        .where(User.active.is_(True), sa.or_(*conditions))
        .order_by(User.id)
    )
    return [u for u in session.scalars(query).unique() if u.username in usernames or u.groups & groups]


def experts(*, session) -> list[User]:
    """The expert panel (专家库): everyone with the role 'expert'."""
    return users_in_group(session=session, group="expert")


def _has_role(session, role: str):
    """SQL condition: the JSON list User.roles contains `role` (JSONB containment on
    PostgreSQL, json_each on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.type_coerce(User.roles, postgresql.JSONB).contains([role])
    each = sa.func.json_each(User.roles).table_valued("value")
    return sa.exists().where(each.c.value == role)


@choice_source("own_unit")
def own_unit_choices(*, session, user, value) -> list[tuple[int, str]]:
    """The applicant's own unit; and the unit a form already names, so others see its name."""
    ids = [i for i in (getattr(user, "unit_id", None), value) if isinstance(i, int)]
    if not ids:
        return []
    names = dict(session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all())
    return [(i, names[i]) for i in ids if i in names]
