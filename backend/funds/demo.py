"""Demo funds: every approved or in-construction demo project gets budget lines for last year
and this year (per funding source of its application), monthly investment reports up to last
month (one of them corrected, so the history shows a second version), and one allocation per
year from the finance system.

Runs after the contracts loader (which adds this year's lines the demo contract draws on).
Idempotent: the demo allocation document of a project (DEMO-<project code>-<year>) marks it
as loaded; such a project is left as it is.
"""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from backend.contracts.models import BudgetLine
from backend.db import utcnow
from backend.demo import loader
from backend.funds import service
from backend.funds.models import Allocation
from backend.projects.models import Project
from backend.workdays.service import local_date

DEMO_STATES = ("approved", "in_construction")
CENT = Decimal("0.01")
# Share of each funding source planned in a year.
LAST_YEAR_SHARE = Decimal("0.10")
THIS_YEAR_SHARE = Decimal("0.30")
# Of last year's plan: reported in its last three months; of this year's: month by month.
LAST_YEAR_MONTHS = ((10, Decimal("0.20")), (11, Decimal("0.35")), (12, Decimal("0.40")))
THIS_YEAR_MONTHLY = Decimal("0.04")


def document_number(project: Project, year: int) -> str:
    return f"DEMO-{project.code}-{year}"


@loader
def load_funds(*, session) -> int:
    """年度计划投资、月度完成投资和资金下达 (budget lines, monthly reports, allocations)"""
    projects = session.scalars(
        sa.select(Project).where(Project.status.in_(DEMO_STATES)).order_by(Project.id)
    ).all()
    today = local_date(utcnow())
    created = 0
    for project in projects:
        marker = document_number(project, today.year)
        if session.scalar(sa.select(Allocation.id).where(Allocation.document_number == marker)):
            continue
        created += _funds(session, project, today)
    return created


def _sources(project: Project) -> list[tuple[str, Decimal]]:
    found = [
        (str(row.get("source")), Decimal(str(row.get("amount"))))
        for row in project.funding_sources or []
        if row.get("source") and row.get("amount")
    ]
    return found or [("企业自筹", Decimal(project.total_investment))]


def _funds(session, project: Project, today) -> int:
    created = 0
    plans: dict[int, Decimal] = {}
    for year, share in ((today.year - 1, LAST_YEAR_SHARE), (today.year, THIS_YEAR_SHARE)):
        for source, amount in _sources(project):
            exists = session.scalar(
                sa.select(BudgetLine.id).where(
                    BudgetLine.project_id == project.id, BudgetLine.year == year, BudgetLine.source == source
                )
            )
            if exists is None:
                # Rows, not save_budget_line: nothing is blocked yet, so no re-check messages
                # (jobs the embedded workers would run while the first pages load).
                session.add(
                    BudgetLine(
                        project_id=project.id,
                        year=year,
                        source=source,
                        amount=(amount * share).quantize(CENT),
                    )
                )
                session.flush()
                created += 1
        plans[year] = service.annual_plan(session=session, project=project, year=year)

    last_year = today.year - 1
    for month, share in LAST_YEAR_MONTHS:
        _report(session, project, last_year, month, plans[last_year] * share, today)
        created += 1
    for month in range(1, today.month):
        amount = plans[today.year] * THIS_YEAR_MONTHLY
        if month == 1:
            # Reported low, then corrected: the page's history shows both versions.
            _report(session, project, today.year, month, amount * Decimal("0.8"), today)
            created += 1
        _report(
            session,
            project,
            today.year,
            month,
            amount,
            today,
            note="" if month > 1 else "更正: 补报漏计的材料款",
        )
        created += 1

    first_source = _sources(project)[0][0]
    for year, share in ((last_year, Decimal("1")), (today.year, Decimal("0.6"))):
        service.import_allocation(
            session=session,
            project=project,
            document_number=document_number(project, year),
            year=year,
            source=first_source,
            amount=(plans[year] * share).quantize(CENT),
            allocated_on=min(date(year, 3, 15) if year == today.year else date(year, 9, 15), today),
            imported_by="demo",
            note="演示资金下达",
        )
        created += 1
    return created


def _report(session, project, year, month, amount, today, note: str = "") -> None:
    service.report_month(
        session=session,
        project=project,
        year=year,
        month=month,
        amount=Decimal(amount).quantize(CENT),
        reported_by="applicant",
        note=note,
        today=today,
    )
