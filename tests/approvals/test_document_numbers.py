"""批复 numbers: one sequence per year (the year in Shanghai), never two alike, even when two
approvals finish at the same moment."""

from datetime import UTC, datetime

import sqlalchemy as sa
import time_machine

from backend.approvals import service as approvals
from backend.approvals.models import ApprovalDocument
from backend.projects.models import Project
from tests.concurrency import race

from .conftest import Flow


def _approve(session, org, code, at):
    flow = Flow(session, org)
    with time_machine.travel(at, tick=False):
        flow.submit(project_code=code, project_name=f"项目 {code}")
        flow.accept()
        flow.approve_round()
    assert flow.instance.state == "completed"
    return session.scalar(sa.select(ApprovalDocument).join(Project).filter(Project.code == code))


def test_numbers_run_per_year_and_restart(session, org, deployed):
    first = _approve(session, org, "2025-330106-48-01-00017X", datetime(2025, 12, 1, 2, tzinfo=UTC))
    second = _approve(session, org, "2025-330106-48-01-00018A", datetime(2025, 12, 31, 8, tzinfo=UTC))
    # 31 Dec 17:00 UTC is already 1 January 01:00 in Shanghai: the first number of 2026.
    third = _approve(session, org, "2025-330100-48-01-00019B", datetime(2025, 12, 31, 17, tzinfo=UTC))
    fourth = _approve(session, org, "2025-330100-48-01-00020C", datetime(2026, 1, 5, 2, tzinfo=UTC))
    assert [d.number for d in (first, second, third, fourth)] == [
        "浙发改审批〔2025〕1号",
        "浙发改审批〔2025〕2号",
        "浙发改审批〔2026〕1号",
        "浙发改审批〔2026〕2号",
    ]
    assert [(d.year, d.seq) for d in (first, second, third, fourth)] == [
        (2025, 1),
        (2025, 2),
        (2026, 1),
        (2026, 2),
    ]


def test_concurrent_allocations_never_collide(app, session):
    """Real threads and connections (FOR UPDATE row lock on PostgreSQL, BEGIN IMMEDIATE on
    SQLite): every allocation gets its own number."""
    threads_count = 6
    outcomes = race(
        app, [lambda s: approvals.allocate_document_seq(session=s, year=2027) for _ in range(threads_count)]
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    results = [o for o in outcomes if not isinstance(o, Exception)]
    assert errors == []
    assert sorted(results) == list(range(1, threads_count + 1))
    assert approvals.allocate_document_seq(session=session, year=2027) == threads_count + 1
    assert approvals.allocate_document_seq(session=session, year=2028) == 1
