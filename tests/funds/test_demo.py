"""The demo loaders of the schedule (backend/schedule/demo.py) and the funds
(backend/funds/demo.py), after the contracts loader, on the contracts tests' approved project:
what they make, and that loading again changes nothing."""

import subprocess
import sys
from datetime import date

import sqlalchemy as sa

from backend.contracts.demo import load_contracts
from backend.contracts.models import BudgetLine, PaymentMilestone
from backend.extensions import db
from backend.funds import service as funds
from backend.funds.demo import load_funds
from backend.funds.models import Allocation, InvestmentReport
from backend.schedule import service as schedule
from backend.schedule.demo import load_schedules
from backend.schedule.models import WbsBaseline, WbsDependency, WbsItem, WbsProgress
from tests.contracts.conftest import clock, deployed, outbox, world  # noqa: F401  (fixtures)

TODAY = date(2026, 3, 2)  # the contracts tests' clock


def counts(session) -> dict[str, int]:
    return {
        table.name: session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def test_loader_order():
    """In the app as `make run` builds it (a fresh interpreter: test imports reorder LOADERS)."""
    script = (
        "from backend import create_app; from backend.demo import LOADERS; "
        "create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://'}); print(' '.join(f.__name__ for f in LOADERS))"
    )
    names = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert names.index("load_contracts") < names.index("load_schedules") < names.index("load_funds")


def test_demo_schedule_and_funds(session, world, clock):  # noqa: F811
    assert load_contracts(session=session) == 6
    session.commit()
    assert load_schedules(session=session) == 15
    created = load_funds(session=session)
    session.commit()
    project = world.project

    items = schedule.items_of(session=session, project_id=project.id)
    leaves = [i for i in items if "." in i.code]
    assert len(leaves) == 11 and {i.level for i in items} == {1, 2}
    done = [i.code for i in leaves if i.percent_complete == 100]
    assert done == ["1.1", "1.2", "1.3", "2.1"]
    summary = schedule.summary(session=session, project_id=project.id, at=TODAY)
    assert "2.2" in {i.code for i in summary.overdue}  # late: 80 % after its planned end
    assert summary.deviation is not None and summary.deviation < 0  # behind the baseline
    assert session.scalar(sa.select(WbsBaseline.number).filter_by(project_id=project.id)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(WbsDependency)) == 10
    assert session.scalar(sa.select(sa.func.count()).select_from(WbsProgress)) == 11
    linked = session.execute(
        sa.select(WbsItem.code, PaymentMilestone.seq).join(
            PaymentMilestone, WbsItem.payment_milestone_id == PaymentMilestone.id
        )
    ).all()
    assert sorted(linked) == [("2.4", 1), ("3.2", 2), ("4.2", 3)]
    assert all(i.actual_start and i.actual_start <= TODAY for i in leaves if i.percent_complete > 0)

    years = set(session.scalars(sa.select(BudgetLine.year).filter_by(project_id=project.id)))
    assert years == {2025, 2026}
    figures = funds.figures(session=session, project=project, year=2026)
    # January reported twice (a correction), February once; March is this month.
    reports = session.execute(
        sa.select(InvestmentReport.year, InvestmentReport.month, InvestmentReport.version)
        .filter_by(project_id=project.id, year=2026)
        .order_by(InvestmentReport.month, InvestmentReport.version)
    ).all()
    assert [tuple(r) for r in reports] == [(2026, 1, 1), (2026, 1, 2), (2026, 2, 1)]
    assert figures.completed_year > 0 and figures.year_completion_rate is not None
    assert figures.allocated > 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Allocation)) == 2
    assert created == 2 + 3 + 3 + 2  # lines (one source, two years), reports of 2025 and 2026, allocations

    before = counts(session)
    assert load_contracts(session=session) == 0
    assert load_schedules(session=session) == 0
    assert load_funds(session=session) == 0
    session.commit()
    assert counts(session) == before
