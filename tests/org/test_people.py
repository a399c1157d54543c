"""Departments, units and demo people, and who belongs to a candidate group."""

import pytest
import sqlalchemy as sa

from backend import demo
from backend.org.credit_code import validate_credit_code
from backend.org.demo import CONTRACTOR_UNIT, OWNER_UNIT, SUPERVISOR_UNIT, load_org
from backend.org.models import Department, Region, Unit, User
from backend.org.service import experts, get_user, users_in_group

DEMO_USERNAMES = {
    "applicant", "fgw_window", "fgw_reviewer", "fgw_head", "cz_reviewer", "cz_head", "cz_finance",
    "zj_reviewer", "zj_head", "zrzy_reviewer", "zrzy_head", "sthj_reviewer", "sthj_head",
    *(f"expert{i}" for i in range(1, 8)),
    "inspector", "contractor", "supervisor", "designer", "operator", "hz_reviewer",
    "leader", "hz_leader",
    "sysadmin", "secadmin", "auditadmin",
}  # fmt: skip


@pytest.fixture()
def org(session):
    load_org(session=session)
    session.commit()
    units = {u.name: u for u in session.scalars(sa.select(Unit))}
    return units


def names(users):
    return [u.username for u in users]


def test_loader_is_registered_and_idempotent(session):
    assert load_org in demo.LOADERS
    assert load_org(session=session) == 102 + 6 + 6 + 31
    session.commit()
    assert load_org(session=session) == 0
    session.commit()
    counts = [
        session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Region, Department, Unit, User)
    ]
    assert counts == [102, 6, 6, 31]  # 31 people: the two leaders (issue 10) included


def test_departments(session, org):
    departments = {
        d.code: (d.name, d.short_name, d.region_code) for d in session.scalars(sa.select(Department))
    }
    assert departments == {
        "fgw": ("浙江省发展和改革委员会", "发改", "330000"),
        "cz": ("浙江省财政厅", "财政", "330000"),
        "zj": ("浙江省住房和城乡建设厅", "住建", "330000"),
        "zrzy": ("浙江省自然资源厅", "自然资源", "330000"),
        "sthj": ("浙江省生态环境厅", "生态环境", "330000"),
        "sj": ("浙江省审计厅", "审计", "330000"),
    }


def test_units(org):
    assert org[OWNER_UNIT].kind == "owner"
    assert org[CONTRACTOR_UNIT].kind == "contractor"
    assert org[SUPERVISOR_UNIT].kind == "supervisor"
    owners = [u for u in org.values() if u.kind == "owner"]
    assert len(owners) >= 3
    assert len({u.region_code[:4] for u in owners}) == len(owners)  # owners in different cities
    for unit in org.values():
        assert validate_credit_code(unit.credit_code), unit.name


def test_demo_people(session, org):
    users = {u.username: u for u in session.scalars(sa.select(User))}
    assert set(users) == DEMO_USERNAMES
    applicant = users["applicant"]
    assert (applicant.unit.name, applicant.roles, applicant.department) == (OWNER_UNIT, ["owner"], None)
    assert users["contractor"].unit.name == CONTRACTOR_UNIT
    assert users["supervisor"].unit.name == SUPERVISOR_UNIT
    assert users["fgw_window"].groups == {"window", "fgw.window"}
    assert users["cz_finance"].groups == {"finance", "cz.finance"}
    assert users["expert3"].groups == {"expert"}
    for admin in ("sysadmin", "secadmin", "auditadmin"):
        assert users[admin].roles == [admin]
    assert users["hz_reviewer"].region_code == "330100"
    assert (users["leader"].roles, users["leader"].region_code) == (["leader"], "330000")
    assert (users["hz_leader"].roles, users["hz_leader"].region_code) == (["leader"], "330100")
    for user in users.values():
        assert user.display_name and not user.display_name.isascii(), user.username
        assert user.region_code is not None


def test_department_role_groups(session, org):
    # hz_reviewer: a city-level 发改 reviewer (data scope narrows what he sees, not his groups).
    assert names(users_in_group(session=session, group="fgw.reviewer")) == ["fgw_reviewer", "hz_reviewer"]
    assert names(users_in_group(session=session, group="fgw.window")) == ["fgw_window"]
    assert names(users_in_group(session=session, group="cz.head")) == ["cz_head"]
    assert names(users_in_group(session=session, group="cz.finance")) == ["cz_finance"]
    assert users_in_group(session=session, group="fgw.finance") == []  # the role lives in 财政 only
    assert users_in_group(session=session, group="sj.reviewer") == []
    assert users_in_group(session=session, group="nosuch.reviewer") == []


def test_plain_role_groups(session, org):
    reviewers = names(users_in_group(session=session, group="reviewer"))
    assert sorted(reviewers) == [
        "cz_reviewer",
        "fgw_reviewer",
        "hz_reviewer",
        "sthj_reviewer",
        "zj_reviewer",
        "zrzy_reviewer",
    ]
    assert names(experts(session=session)) == [f"expert{i}" for i in range(1, 8)]
    assert names(users_in_group(session=session, group="inspector")) == ["inspector"]
    assert users_in_group(session=session, group="nobody") == []


def test_unit_groups(session, org):
    owner_id, contractor_id = org[OWNER_UNIT].id, org[CONTRACTOR_UNIT].id
    assert names(users_in_group(session=session, group=f"unit.{owner_id}")) == ["applicant"]
    assert names(users_in_group(session=session, group=f"unit.{contractor_id}")) == ["contractor"]
    assert users_in_group(session=session, group="unit.999999") == []
    assert users_in_group(session=session, group="unit.abc") == []


def test_membership_is_exact_and_only_active(session, org):
    fgw = session.scalar(sa.select(Department).filter_by(code="fgw"))
    session.add_all(
        [
            User(username="both", display_name="双岗", department_id=fgw.id, roles=["reviewer", "head"]),
            User(
                username="lookalike", display_name="相似", department_id=fgw.id, roles=["reviewer2", "head-x"]
            ),
            User(
                username="gone", display_name="离职", department_id=fgw.id, roles=["reviewer"], active=False
            ),
        ]
    )
    session.commit()
    assert names(users_in_group(session=session, group="fgw.reviewer")) == [
        "fgw_reviewer",
        "hz_reviewer",
        "both",
    ]
    assert names(users_in_group(session=session, group="fgw.head")) == ["fgw_head", "both"]
    assert "lookalike" not in names(users_in_group(session=session, group="reviewer"))
    for group in ("fgw.reviewer", "reviewer", "expert", f"unit.{org[OWNER_UNIT].id}"):
        for user in users_in_group(session=session, group=group):
            assert group in user.groups


def test_get_user(session, org):
    assert get_user(session=session, username="fgw_head").department.code == "fgw"
    assert get_user(session=session, username="nobody") is None
