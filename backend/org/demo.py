"""Demo organisations and people (docs/processes.md, "Departments, roles and demo accounts").

Credit codes of the demo units are made up but valid (both check characters right); they are
not the real codes of the companies named.
"""

import sqlalchemy as sa

from backend.demo import loader
from backend.org.models import Department, Unit, User
from backend.org.service import seed_departments, seed_regions

OWNER_UNIT = "杭州市城市建设投资集团有限公司"
CONTRACTOR_UNIT = "浙江省建工集团有限责任公司"
SUPERVISOR_UNIT = "浙江江南工程管理股份有限公司"

# name, kind, 统一社会信用代码, region, contact, phone
UNITS = (
    (OWNER_UNIT, "owner", "91330100143072159T", "330100", "张伟", "0571-87016688"),
    (CONTRACTOR_UNIT, "contractor", "91330000142916380P", "330000", "刘洋", "0571-85012345"),
    (SUPERVISOR_UNIT, "supervisor", "91330100725873060J", "330100", "黄磊", "0571-88396688"),
    ("宁波市轨道交通集团有限公司", "owner", "91330200684239708R", "330200", "陈海峰", "0574-87123456"),
    ("温州市城市建设发展集团有限公司", "owner", "913303001452536903", "330300", "林晓东", "0577-88261234"),
    ("金华市城市建设投资集团有限公司", "owner", "91330700147127401M", "330700", "方志勇", "0579-82356789"),
)

# username, display name, department code, unit name, region, roles
PEOPLE = (
    ("applicant", "张伟", None, OWNER_UNIT, "330100", ["owner"]),
    ("fgw_window", "陈晓燕", "fgw", None, "330000", ["window"]),
    ("fgw_reviewer", "李明", "fgw", None, "330000", ["reviewer"]),
    ("fgw_head", "王建华", "fgw", None, "330000", ["head"]),
    ("cz_reviewer", "赵丽", "cz", None, "330000", ["reviewer"]),
    ("cz_head", "孙志强", "cz", None, "330000", ["head"]),
    ("cz_finance", "周敏", "cz", None, "330000", ["finance"]),
    ("zj_reviewer", "吴刚", "zj", None, "330000", ["reviewer"]),
    ("zj_head", "郑国平", "zj", None, "330000", ["head"]),
    ("zrzy_reviewer", "冯雪", "zrzy", None, "330000", ["reviewer"]),
    ("zrzy_head", "陈卫东", "zrzy", None, "330000", ["head"]),
    ("sthj_reviewer", "何海燕", "sthj", None, "330000", ["reviewer"]),
    ("sthj_head", "吕国栋", "sthj", None, "330000", ["head"]),
    ("expert1", "蒋文涛", None, None, "330100", ["expert"]),
    ("expert2", "沈佳琪", None, None, "330100", ["expert"]),
    ("expert3", "韩立群", None, None, "330200", ["expert"]),
    ("expert4", "杨振宇", None, None, "330300", ["expert"]),
    ("expert5", "朱慧芳", None, None, "330600", ["expert"]),
    ("expert6", "秦志远", None, None, "330700", ["expert"]),
    ("expert7", "许建明", None, None, "331000", ["expert"]),
    ("inspector", "施红梅", None, None, "330000", ["inspector"]),
    ("contractor", "刘洋", None, CONTRACTOR_UNIT, "330000", ["contractor"]),
    ("supervisor", "黄磊", None, SUPERVISOR_UNIT, "330100", ["supervisor"]),
    ("designer", "徐静", None, None, "330000", ["designer"]),
    ("operator", "马骏", None, None, "330000", ["operator"]),
    # A city-level 发改 reviewer (杭州): sees Hangzhou's projects and tasks only (data scope).
    ("hz_reviewer", "钱晓峰", "fgw", None, "330100", ["reviewer"]),
    # Leaders (领导驾驶舱): the province sees every region, the city leader 杭州 only.
    ("leader", "周建国", None, None, "330000", ["leader"]),
    ("hz_leader", "许文华", None, None, "330100", ["leader"]),
    # 三员分立: three administrators, each one role only, none doing business work.
    ("sysadmin", "系统管理员", None, None, "330000", ["sysadmin"]),
    ("secadmin", "安全管理员", None, None, "330000", ["secadmin"]),
    ("auditadmin", "审计管理员", None, None, "330000", ["auditadmin"]),
)


@loader
def load_org(*, session) -> int:
    """行政区划、部门、单位和演示人员 (regions, departments, units, people)"""
    created = seed_regions(session=session) + seed_departments(session=session)

    units = {unit.name: unit for unit in session.scalars(sa.select(Unit))}
    for name, kind, credit_code, region_code, contact_name, contact_phone in UNITS:
        if name not in units:
            units[name] = Unit(
                name=name,
                kind=kind,
                credit_code=credit_code,
                region_code=region_code,
                contact_name=contact_name,
                contact_phone=contact_phone,
            )
            session.add(units[name])
            created += 1
    session.flush()

    departments = {d.code: d for d in session.scalars(sa.select(Department))}
    people = {u.username: u for u in session.scalars(sa.select(User))}
    for username, display_name, department_code, unit_name, region_code, roles in PEOPLE:
        if username in people:
            # People loaded before e-mail existed get their address on a re-load; one set by
            # hand is kept.
            if people[username].email is None:
                people[username].email = demo_email(username)
            continue
        session.add(
            User(
                username=username,
                display_name=display_name,
                department_id=departments[department_code].id if department_code else None,
                unit_id=units[unit_name].id if unit_name else None,
                region_code=region_code,
                roles=list(roles),
                email=demo_email(username),
            )
        )
        created += 1
    session.flush()
    return created


def demo_email(username: str) -> str:
    return f"{username}@example.gov.cn"
