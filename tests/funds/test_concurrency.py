"""Two people report the same project and month at once: each report is kept, as consecutive
versions, and exactly one is current. Each report runs in its own thread, app context and
database connection (tests/concurrency.py).

On SQLite the unit of work holds the write lock from BEGIN IMMEDIATE; with TEST_DATABASE_URL
on PostgreSQL it is report_month's row lock on the project that makes the second report read
the first one's version instead of colliding on the same number."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from backend.funds import service
from backend.funds.models import InvestmentReport
from backend.projects.models import Project
from tests.concurrency import race

TODAY = date(2026, 3, 15)


def _report(project_id: int, amount: str, who: str):
    def action(session):
        project = session.get(Project, project_id)
        row = service.report_month(
            session=session, project=project, year=2026, month=2, amount=amount, reported_by=who, today=TODAY
        )
        return row.version

    return action


def _history(session, project_id: int):
    session.expire_all()
    return session.execute(
        sa.select(InvestmentReport.version, InvestmentReport.amount, InvestmentReport.superseded_at)
        .where(
            InvestmentReport.project_id == project_id,
            InvestmentReport.year == 2026,
            InvestmentReport.month == 2,
        )
        .order_by(InvestmentReport.version)
    ).all()


def test_two_reports_of_one_month_at_once(app, session, project):
    project_id = project.id
    session.rollback()  # end our transaction: on SQLite it would hold the lock
    for round_no in range(3):
        outcomes = race(app, [_report(project_id, "100.00", "a"), _report(project_id, "200.00", "b")])

        assert all(isinstance(o, int) for o in outcomes), outcomes  # nobody was refused
        history = _history(session, project_id)
        first_version = 2 * round_no + 1
        assert [v for v, _a, _s in history] == list(range(1, first_version + 2))
        assert sorted(outcomes) == [first_version, first_version + 1]
        current = [(v, a) for v, a, superseded in history if superseded is None]
        assert len(current) == 1 and current[0][0] == first_version + 1
        assert all(superseded is not None for _v, _a, superseded in history[:-1])
        # The month counts once, with the current version's amount.
        assert service.completed(
            session=session, project=session.get(Project, project_id), year=2026
        ) == Decimal(current[0][1])
        session.rollback()
