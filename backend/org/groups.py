"""Candidate groups in words. A group is a code (User.groups): '<department>.<role>'
(发改委的审查人员), 'unit.<id>' (a unit's people) or a plain role ('expert'). Pages show
the name; a code that names no department, unit or role is shown as it is."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from backend.org.models import Department, Unit


@dataclass(frozen=True)
class GroupName:
    code: str
    owner: str | None = None  # the department's or unit's name
    role: str | None = None  # the role's Chinese name (a message id: translated when shown)

    def label(self):
        """The words to show (lazy: in the language of the request showing it)."""
        if self.owner and self.role:
            return _l("%(owner)s%(role)s", owner=self.owner, role=_l(self.role))
        if self.role:
            return _l(self.role)
        return self.owner or self.code


def _role_names(session) -> dict[str, str]:
    from backend.authz.models import Role
    from backend.authz.permissions import ROLE_NAMES

    return {**ROLE_NAMES, **dict(session.execute(sa.select(Role.code, Role.name)).all())}


def group_names(*, session, codes) -> dict[str, GroupName]:
    """Each distinct code given → its GroupName, in three queries at most."""
    codes = {c for c in codes if c}
    if not codes:
        return {}
    roles = _role_names(session)
    parts = {code: code.partition(".") for code in codes}
    unit_ids = {
        int(rest) for prefix, dot, rest in parts.values() if dot and prefix == "unit" and rest.isdigit()
    }
    department_codes = {prefix for prefix, dot, _rest in parts.values() if dot and prefix != "unit"}
    units = (
        dict(session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_(sorted(unit_ids)))).all())
        if unit_ids
        else {}
    )
    departments = (
        dict(
            session.execute(
                sa.select(Department.code, Department.name).where(
                    Department.code.in_(sorted(department_codes))
                )
            ).all()
        )
        if department_codes
        else {}
    )
    names = {}
    for code, (prefix, dot, rest) in parts.items():
        if not dot:
            names[code] = GroupName(code, role=roles.get(code))
        elif prefix == "unit":
            names[code] = GroupName(code, owner=units.get(int(rest)) if rest.isdigit() else None)
        elif prefix in departments and rest in roles:
            names[code] = GroupName(code, owner=departments[prefix], role=roles[rest])
        else:
            names[code] = GroupName(code)
    return names


def group_name(*, session, code: str | None) -> GroupName | None:
    return group_names(session=session, codes=[code]).get(code) if code else None
