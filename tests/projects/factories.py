"""Rows and applications the project and approval tests build on: regions, the owner unit and
its applicant, department staff and experts, stored files. Created directly with the models so
the tests do not depend on the org or files seed."""

import hashlib
from dataclasses import dataclass, field

from backend.db import utcnow
from backend.files.models import StoredFile
from backend.org.models import Department, Region, Unit, User

PROJECT_CODE = "2025-330106-48-01-00017X"
DEPARTMENTS = ("fgw", "cz", "zj", "zrzy", "sthj")


@dataclass
class Org:
    unit: Unit
    other_unit: Unit
    applicant: User
    files: dict[str, StoredFile] = field(default_factory=dict)


def make_org(session) -> Org:
    session.add_all(
        [
            Region(code="330000", name="浙江省", level="province"),
            Region(code="330100", name="杭州市", level="city", parent_code="330000"),
            Region(code="330106", name="西湖区", level="county", parent_code="330100"),
            Region(code="330200", name="宁波市", level="city", parent_code="330000"),
        ]
    )
    session.flush()
    unit = Unit(name="杭州市城市建设投资集团有限公司", kind="owner", region_code="330100")
    other = Unit(name="浙江省建工集团有限责任公司", kind="contractor", region_code="330000")
    session.add_all([unit, other])
    session.flush()
    applicant = User(username="applicant", display_name="张伟", unit_id=unit.id, roles=["owner"])
    session.add(applicant)
    for code in (*DEPARTMENTS, "sj"):
        department = Department(code=code, name=f"浙江省{code}", short_name=code, region_code="330000")
        session.add(department)
        session.flush()
        for role in ("reviewer", "head") + (("window",) if code == "fgw" else ()):
            session.add(
                User(
                    username=f"{code}_{role}",
                    display_name=f"{code}{role}",
                    department_id=department.id,
                    roles=[role],
                )
            )
    for i in range(1, 8):
        session.add(User(username=f"expert{i}", display_name=f"专家{i}", roles=["expert"]))
    files = {
        kind: stored_file(session, f"{kind} v1") for kind in ("proposal", "feasibility", "preliminary_design")
    }
    session.flush()
    return Org(unit=unit, other_unit=other, applicant=applicant, files=files)


def stored_file(session, content: str) -> StoredFile:
    sha256 = hashlib.sha256(content.encode()).hexdigest()
    row = session.get(StoredFile, sha256)
    if row is None:
        row = StoredFile(
            sha256=sha256, size=len(content), content_type="application/pdf", created_at=utcnow()
        )
        session.add(row)
        session.flush()
    return row


def application(org: Org, **overrides) -> dict:
    """A valid application as the form submits it."""
    data = {
        "project_name": "杭州市西湖区文三路综合管廊工程",
        "project_code": PROJECT_CODE,
        "owner_unit_id": org.unit.id,
        "region_code": "330106",
        "industry": "市政公用设施",
        "nature": "new",
        "total_investment": "128000000.00",
        "funding_sources": [
            {"source": "中央预算内资金", "amount": "30000000.00"},
            {"source": "地方政府专项债券", "amount": "60000000.00"},
            {"source": "企业自筹", "amount": "38000000.00"},
        ],
        "planned_start": "2026-03-01",
        "planned_end": "2028-06-30",
        "scale_content": "新建综合管廊 3.2 公里, 含电力、通信、给水舱室及附属设施。",
        "contact_name": "张伟",
        "contact_phone": "0571-87016688",
        "documents": [
            {"kind": kind, "sha256": row.sha256, "name": f"{label}.pdf"}
            for (kind, row), label in zip(
                org.files.items(), ("项目建议书", "可行性研究报告", "初步设计"), strict=True
            )
        ],
    }
    data.update(overrides)
    return data
