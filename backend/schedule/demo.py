"""Demo work breakdown: every approved or in-construction demo project gets a two-level WBS
(4 groups, 11 leaves) placed around today, so the page always tells the same story: the
preparation done, the piling done, the excavation late (overdue at 80 %), the basement
behind plan, the rest not started; milestones linked to the demo contract's payment
milestones, finish-to-start dependencies, baseline 1 and a progress history.

Runs after the contracts loader (the milestone links). Idempotent: a project that has any
breakdown item is left as it is.
"""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from backend.contracts.models import Contract, PaymentMilestone
from backend.db import utcnow
from backend.demo import loader
from backend.org.demo import CONTRACTOR_UNIT
from backend.org.models import Unit
from backend.projects.models import Project
from backend.schedule import service
from backend.schedule.models import WbsItem
from backend.workdays.service import local_date

DEMO_STATES = ("approved", "in_construction")
BY = "demo"
# The plan starts this many days before today.
STARTED_DAYS_AGO = 140

# code, name, start and end (days after the plan's start), weight, milestone (seq of the
# contract's payment milestone to link, or 0 for none; None: no milestone), who does it
# ("owner" | "contractor"), progress steps [(percent, day after start)], deliverables
ITEMS = (
    ("1", "前期与施工准备", 0, 60, "1", None, "owner", (), ""),
    ("1.1", "施工图设计及审查", 0, 30, "2", None, "owner", ((40, 12), (100, 29)), "施工图审查合格书"),
    ("1.2", "场地平整与临时设施", 31, 50, "1", None, "contractor", ((60, 40), (100, 50)), ""),
    ("1.3", "取得施工许可证", 51, 60, "1", 0, "owner", ((100, 58),), "施工许可证"),
    ("2", "基础及地下室工程", 61, 175, "3", None, "contractor", (), ""),
    ("2.1", "桩基工程", 61, 100, "3", None, "contractor", ((30, 75), (70, 90), (100, 101)), "桩基检测报告"),
    ("2.2", "基坑支护与土方开挖", 101, 125, "2", None, "contractor", ((40, 110), (80, 124)), ""),
    ("2.3", "地下室结构", 126, 170, "3", None, "contractor", ((30, 138),), ""),
    ("2.4", "基础及地下室工程完工", 171, 175, "1", 1, "contractor", (), "分部工程验收记录"),
    ("3", "主体结构工程", 176, 330, "4", None, "contractor", (), ""),
    ("3.1", "主体结构施工", 176, 320, "5", None, "contractor", (), ""),
    ("3.2", "主体结构封顶", 321, 330, "1", 2, "contractor", (), "主体结构验收记录"),
    ("4", "装饰装修与竣工验收", 331, 480, "2", None, "contractor", (), ""),
    ("4.1", "室内外装饰装修", 331, 440, "3", None, "contractor", (), ""),
    ("4.2", "竣工验收", 441, 480, "1", 3, "owner", (), "竣工验收报告"),
)
DEPENDENCIES = (
    ("1.1", "1.2"),
    ("1.2", "1.3"),
    ("1.3", "2.1"),
    ("2.1", "2.2"),
    ("2.2", "2.3"),
    ("2.3", "2.4"),
    ("2.4", "3.1"),
    ("3.1", "3.2"),
    ("3.2", "4.1"),
    ("4.1", "4.2"),
)


@loader
def load_schedules(*, session) -> int:
    """任务分解、进度基线和进度填报 (WBS, baseline, progress)"""
    projects = session.scalars(
        sa.select(Project).where(Project.status.in_(DEMO_STATES)).order_by(Project.id)
    ).all()
    contractor = session.scalar(sa.select(Unit).where(Unit.name == CONTRACTOR_UNIT))
    created = 0
    for project in projects:
        if session.scalar(sa.select(WbsItem.id).where(WbsItem.project_id == project.id).limit(1)):
            continue
        created += _breakdown(session, project, contractor)
    return created


def _breakdown(session, project: Project, contractor: Unit | None) -> int:
    today = local_date(utcnow())
    start = today - timedelta(days=STARTED_DAYS_AGO)
    milestones = _payment_milestones(session, project)
    items: dict[str, WbsItem] = {}
    for code, name, first, last, weight, milestone, who, _steps, deliverables in ITEMS:
        by_contractor = who == "contractor" and contractor is not None
        items[code] = service.create_item(
            session=session,
            project_id=project.id,
            code=code,
            name=name,
            planned_start=start + timedelta(days=first),
            planned_end=start + timedelta(days=last),
            weight=Decimal(weight),
            unit_id=contractor.id if by_contractor else project.owner_unit_id,
            responsible="contractor" if by_contractor else "applicant",
            deliverables=deliverables,
            is_milestone=milestone is not None,
            payment_milestone_id=milestones.get(milestone) if milestone else None,
            by=BY,
            audit=False,
        )
    for predecessor, successor in DEPENDENCIES:
        service.add_dependency(
            session=session, predecessor=items[predecessor], successor=items[successor], by=BY, audit=False
        )
    service.create_baseline(session=session, project_id=project.id, by=BY)
    for code, *_plan, who, steps, _deliverables in ITEMS:
        for percent, day in steps:
            on = start + timedelta(days=day)
            entry = service.record_progress(
                session=session,
                item=items[code],
                percent=percent,
                by="contractor" if who == "contractor" else "applicant",
                note="演示进度填报",
                actual_start=items[code].actual_start or on,
                actual_end=on if percent == 100 else None,
                today=today,
            )
            # The history reads as reported on the day, not all at load time.
            entry.recorded_at = datetime.combine(on, time(2, 0), tzinfo=UTC)
    session.flush()
    return len(items)


def _payment_milestones(session, project: Project) -> dict[int, int]:
    """seq → payment milestone id of the project's first contract (none: no links)."""
    contract_id = session.scalar(
        sa.select(Contract.id).where(Contract.project_id == project.id).order_by(Contract.id).limit(1)
    )
    if contract_id is None:
        return {}
    rows = session.execute(
        sa.select(PaymentMilestone.seq, PaymentMilestone.id).where(
            PaymentMilestone.contract_id == contract_id
        )
    ).all()
    return {seq: milestone_id for seq, milestone_id in rows}
