"""Demo 开工 and 竣工验收 records: every demo project in construction or completed without an
actual start gets one (its planned start, not before its 批复 and not after today), and every
completed one without an acceptance gets a passed (合格) acceptance with benefit indicators, so
开工率 and 投资效益比 have something to count.

Rows, not the service: the demo sets the past, which the service's rules (dates up to today,
who may act) are not about. Idempotent: a project that has its actual start and acceptance is
left as it is. It runs after every other loader (`last=True`): an approved demo project whose
schedule demo has actual starts is put in construction from its first actual start.
"""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from backend.db import utcnow
from backend.demo import loader
from backend.projects.models import Project, ProjectCompletion
from backend.schedule.models import WbsItem
from backend.workdays.service import local_date

STARTED = ("in_construction", "completed")
CENT = Decimal("0.01")
# Benefits per yuan of total investment per year (演示比例): revenue or savings, and tax.
BENEFIT_SHARE = Decimal("0.12")
TAX_SHARE = Decimal("0.015")
JOBS_PER_YUAN = Decimal("0.000002")  # two jobs per million yuan


@loader(last=True)
def load_construction(*, session) -> int:
    """开工与竣工验收 (actual starts, acceptances with benefits)"""
    today = local_date(utcnow())
    created = _start_demo_sites(session, today)
    projects = session.scalars(
        sa.select(Project).where(Project.status.in_(STARTED)).order_by(Project.id)
    ).all()
    accepted = set(session.scalars(sa.select(ProjectCompletion.project_id)))
    for project in projects:
        if project.actual_start is None:
            project.actual_start = _start(project, today)
            created += 1
        if project.status == "completed" and project.id not in accepted:
            day = max(min(project.planned_end, today), project.actual_start)
            total = Decimal(project.total_investment)
            session.add(
                ProjectCompletion(
                    project_id=project.id,
                    accepted_on=day,
                    conclusion="passed",
                    opinion="工程质量符合设计和规范要求，同意通过竣工验收。",
                    annual_benefit=(total * BENEFIT_SHARE).quantize(CENT),
                    new_jobs=max(int(total * JOBS_PER_YUAN), 1),
                    annual_tax=(total * TAX_SHARE).quantize(CENT),
                    other_benefits="演示数据：改善周边交通与公共服务条件。",
                    rounds=1,
                    recorded_by="fgw_head",
                    recorded_at=utcnow(),
                )
            )
            project.actual_end = project.actual_end or day
            created += 1
    session.flush()
    return created


def _start_demo_sites(session, today: date) -> int:
    """Approved demo projects whose site has begun (a WBS item with an actual start, from the
    schedule demo) are in construction from that day, as if their owner reported it."""
    first = (
        sa.select(WbsItem.project_id, sa.func.min(WbsItem.actual_start))
        .where(WbsItem.actual_start.is_not(None))
        .group_by(WbsItem.project_id)
    )
    started = 0
    for project_id, day in session.execute(first).all():
        project = session.get(Project, project_id)
        if project.status == "approved" and day <= today:
            project.status, project.actual_start = "in_construction", day
            started += 1
    return started


def _start(project: Project, today: date) -> date:
    approved = local_date(project.approved_at) if project.approved_at is not None else None
    start = max(project.planned_start, approved) if approved else project.planned_start
    return min(start, today)
