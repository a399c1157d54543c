"""Fixtures of the public page tests: a project in 西湖区 surrounded by every kind of data the
page must never show (money, people, opinions, documents), each with a value that can be
searched for in the rendered HTML."""

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from PIL import Image

from backend.accounts.service import set_password
from backend.approvals.models import ApprovalOpinion
from backend.contracts.models import BudgetLine, Contract, Payment, PaymentMilestone
from backend.funds.models import Allocation, InvestmentReport
from backend.org.models import User
from backend.projects.models import ProjectDocument
from backend.publicpage import cache
from backend.schedule import service as schedule
from backend.schedule.models import WbsItem
from tests.api.conftest import PASSWORD, Client, client, make_project, org, signed_in  # noqa: F401

CODE = "2026-330106-48-01-000888"
STATES = ("draft", "applying", "returned", "approved", "rejected", "in_construction", "completed")
PUBLIC = {"approved", "in_construction", "completed"}

# Every amount differs, so a leak names its source.
MONEY = {
    "total_investment": Decimal("1234567.00"),
    "approved_budget": Decimal("7654321.00"),
    "budget_line": Decimal("2468013.57"),
    "allocation": Decimal("3579246.80"),
    "payment": Decimal("9876543.21"),
    "contract": Decimal("5555432.10"),
    "milestone": Decimal("4321987.65"),
    "investment_report": Decimal("8642097.53"),
    "funding_source": Decimal("1111222.33"),
}
SECRETS = {
    "contact_name": "王小明",
    "contact_phone": "13912345678",
    "unit_contact_name": "赵经理",
    "unit_contact_phone": "0571-88886666",
    "responsible": "site_engineer_li",
    "opinion": "同意但需补充环评材料甲乙丙",
    "reviewer": "fgw_reviewer",
    "document": "可研报告内部稿丁戊.pdf",
    "deliverables": "内部交付物己庚",
    "recorded_by": "applicant",
    "created_by": "creator_user_x",
    "display_name": "张伟",
    "scale_content": "建设规模内部描述辛壬",
}


def money_forms(amount: Decimal) -> list[str]:
    """The ways a page could print an amount: 1234567.00, 1,234,567.00, 1234567, 123.46万, ¥..."""
    wan = (amount / 10000).quantize(Decimal("0.01"))
    return [
        f"{amount:.2f}",
        f"{amount:,.2f}",
        f"{int(amount)}",
        f"{int(amount):,}",
        f"{wan}万",
        f"{wan:,}",
        f"{(amount / 100000000).quantize(Decimal('0.01'))}亿" if amount >= 1000000 else "-no-",
    ]


@dataclass
class World:
    project: object
    org: object


@pytest.fixture(autouse=True)
def _fresh_limits_and_cache(app):
    """The rate limiter and the page cache live as long as the app (the whole session)."""
    app.extensions["rate_limiter"].reset()
    cache.pages.clear()
    yield
    cache.pages.clear()


def build_world(session, org, *, status: str = "approved") -> World:  # noqa: F811
    org.unit.contact_name = SECRETS["unit_contact_name"]
    org.unit.contact_phone = SECRETS["unit_contact_phone"]
    project = make_project(
        session,
        org,
        CODE,
        "330106",
        name="西湖区文三路综合管廊工程",
        status=status,
        contact_name=SECRETS["contact_name"],
        contact_phone=SECRETS["contact_phone"],
        created_by=SECRETS["created_by"],
        scale_content=SECRETS["scale_content"],
    )
    project.total_investment = MONEY["total_investment"]
    project.approved_budget = MONEY["approved_budget"]
    project.funding_sources = [{"source": "企业自筹", "amount": str(MONEY["funding_source"])}]
    project.planned_start = date(2026, 1, 1)
    project.planned_end = date(2027, 6, 30)
    session.add(BudgetLine(project_id=project.id, year=2026, source="省级财政", amount=MONEY["budget_line"]))
    session.add(
        Allocation(
            document_number="CZ-2026-0001",
            project_id=project.id,
            year=2026,
            source="省级财政",
            amount=MONEY["allocation"],
            allocated_on=date(2026, 2, 1),
            imported_by="finance_api",
        )
    )
    session.add(
        InvestmentReport(
            project_id=project.id,
            year=2026,
            month=2,
            amount=MONEY["investment_report"],
            reported_by="applicant",
        )
    )
    contract = Contract(
        number="HT-PUB-1",
        name="施工合同",
        project_id=project.id,
        party_a_unit_id=org.unit.id,
        party_b_unit_id=org.other_unit.id,
        amount=MONEY["contract"],
    )
    session.add(contract)
    session.flush()
    milestone = PaymentMilestone(contract_id=contract.id, seq=1, name="预付款", amount=MONEY["milestone"])
    session.add(milestone)
    session.flush()
    session.add(
        Payment(
            number="ZF-1",
            contract_id=contract.id,
            milestone_id=milestone.id,
            amount=MONEY["payment"],
            state="paid",
        )
    )
    session.add(
        ApprovalOpinion(
            project_id=project.id,
            step="review_fgw",
            department="fgw",
            reviewer=SECRETS["reviewer"],
            decision="approve",
            opinion=SECRETS["opinion"],
        )
    )
    session.add(
        ProjectDocument(
            project_id=project.id,
            kind="feasibility",
            file_sha256=org.files["feasibility"].sha256,
            file_name=SECRETS["document"],
            uploaded_by="applicant",
        )
    )
    # WBS: 1 (parent) > 1.1 leaf 50 %, 1.2 milestone done; 2 milestone (future), 3 milestone overdue.
    one = schedule.create_item(
        session=session,
        project_id=project.id,
        code="1",
        name="管廊主体",
        planned_start=date(2026, 1, 1),
        planned_end=date(2026, 12, 31),
        responsible=SECRETS["responsible"],
        deliverables=SECRETS["deliverables"],
        audit=False,
    )
    schedule.create_item(
        session=session,
        project_id=project.id,
        code="1.1",
        name="土方开挖",
        planned_start=date(2026, 1, 1),
        planned_end=date(2026, 6, 30),
        responsible=SECRETS["responsible"],
        audit=False,
    )
    schedule.create_item(
        session=session,
        project_id=project.id,
        code="1.2",
        name="基坑验收",
        planned_start=date(2026, 3, 1),
        planned_end=date(2026, 3, 1),
        is_milestone=True,
        payment_milestone_id=milestone.id,
        audit=False,
    )
    schedule.create_item(
        session=session,
        project_id=project.id,
        code="2",
        name="主体结构封顶",
        planned_start=date(2026, 9, 1),
        planned_end=date(2026, 9, 1),
        is_milestone=True,
        audit=False,
    )
    schedule.create_item(
        session=session,
        project_id=project.id,
        code="3",
        name="管线迁改完成",
        planned_start=date(2026, 2, 1),
        planned_end=date(2026, 3, 10),
        is_milestone=True,
        audit=False,
    )
    items = {i.code: i for i in schedule.items_of(session=session, project_id=project.id)}
    items["1.1"].percent_complete = Decimal("50")
    items["1.2"].percent_complete = Decimal("100")
    items["1.2"].actual_end = date(2026, 3, 2)
    items["3"].percent_complete = Decimal("20")
    items["3"].actual_start = date(2026, 2, 10)
    assert isinstance(one, WbsItem)
    session.commit()
    return World(project=project, org=org)


@pytest.fixture()
def world(session, org):  # noqa: F811
    return build_world(session, org)


def add_user(session, username: str, **fields) -> User:
    user = User(username=username, display_name=fields.pop("display_name", username), **fields)
    session.add(user)
    session.flush()
    set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    return user


def photo_with_gps(*, size=(640, 480), color=(30, 120, 200), fmt="JPEG") -> bytes:
    """A picture carrying EXIF: camera, time and a GPS position (西湖)."""
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel"  # Model
    exif[0x0132] = "2026:03:10 09:30:00"  # DateTime
    gps = {
        1: "N",
        2: (30.0, 15.0, 0.0),
        3: "E",
        4: (120.0, 8.0, 0.0),
    }
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes())
    return out.getvalue()
