"""Validation rules of the breakdown: dates, weights, nesting, dependencies, progress, baselines."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditRecord
from backend.schedule import service
from backend.schedule.models import WbsBaselineItem, WbsDependency, WbsProgress
from backend.schedule.service import ScheduleError


def item(session, project, code, start, end, weight="1", **extra):
    return service.create_item(
        session=session,
        project_id=project.id,
        code=code,
        name=f"任务{code}",
        planned_start=start,
        planned_end=end,
        weight=Decimal(weight),
        by="planner",
        **extra,
    )


D = date


def test_dates_weights_and_codes_are_checked(session, project):
    with pytest.raises(ScheduleError, match="不能早于"):
        item(session, project, "1", D(2026, 3, 10), D(2026, 3, 9))
    with pytest.raises(ScheduleError, match="负数"):
        item(session, project, "1", D(2026, 3, 2), D(2026, 3, 9), weight="-1")
    with pytest.raises(ScheduleError, match="格式不正确"):
        item(session, project, "1.a", D(2026, 3, 2), D(2026, 3, 9))
    with pytest.raises(ScheduleError, match="上级编码 1 不存在"):
        item(session, project, "1.1", D(2026, 3, 2), D(2026, 3, 9))
    first = item(session, project, "1", D(2026, 3, 2), D(2026, 3, 27))
    with pytest.raises(ScheduleError, match="已存在"):
        item(session, project, "1", D(2026, 3, 2), D(2026, 3, 27))
    child = item(session, project, "1.1", D(2026, 3, 2), D(2026, 3, 6))
    assert child.parent_id == first.id and child.level == 2
    session.commit()  # audit entries are written with the transaction
    actions = session.scalars(sa.select(AuditRecord.action).where(AuditRecord.action.like("wbs.%"))).all()
    assert actions == ["wbs.change", "wbs.change"]


def test_child_dates_stay_inside_parent(session, project):
    parent = item(session, project, "1", D(2026, 3, 2), D(2026, 3, 27))
    with pytest.raises(ScheduleError, match="之内"):
        item(session, project, "1.1", D(2026, 3, 2), D(2026, 3, 30))
    with pytest.raises(ScheduleError, match="之内"):
        item(session, project, "1.1", D(2026, 2, 27), D(2026, 3, 6))
    child = item(session, project, "1.1", D(2026, 3, 9), D(2026, 3, 20))
    # The parent cannot shrink past its child, nor the child grow past its parent.
    with pytest.raises(ScheduleError, match="下级 1.1"):
        service.update_item(session=session, item=parent, planned_end=D(2026, 3, 19))
    with pytest.raises(ScheduleError, match="之内"):
        service.update_item(session=session, item=child, planned_end=D(2026, 3, 31))
    service.update_item(session=session, item=parent, planned_end=D(2026, 3, 20))
    assert parent.planned_end == D(2026, 3, 20)


def test_dependency_cycles_and_ancestry_are_refused(session, project):
    top = item(session, project, "1", D(2026, 3, 2), D(2026, 3, 27))
    a = item(session, project, "1.1", D(2026, 3, 2), D(2026, 3, 6))
    b = item(session, project, "1.2", D(2026, 3, 9), D(2026, 3, 13))
    c = item(session, project, "1.3", D(2026, 3, 16), D(2026, 3, 20))
    service.add_dependency(session=session, predecessor=a, successor=b)
    service.add_dependency(session=session, predecessor=b, successor=c)
    with pytest.raises(ScheduleError, match="循环依赖"):
        service.add_dependency(session=session, predecessor=c, successor=a)
    with pytest.raises(ScheduleError, match="循环依赖"):
        service.add_dependency(session=session, predecessor=b, successor=a)
    with pytest.raises(ScheduleError, match="自身"):
        service.add_dependency(session=session, predecessor=a, successor=a)
    with pytest.raises(ScheduleError, match="上下级"):
        service.add_dependency(session=session, predecessor=top, successor=c)
    with pytest.raises(ScheduleError, match="已是"):
        service.add_dependency(session=session, predecessor=a, successor=b)
    # a → c is no cycle (a transitive shortcut).
    service.add_dependency(session=session, predecessor=a, successor=c)
    assert session.scalar(sa.select(sa.func.count()).select_from(WbsDependency)) == 3


def test_progress_only_on_leaves_and_history_kept(session, project):
    top = item(session, project, "1", D(2026, 3, 2), D(2026, 3, 27))
    leaf = item(session, project, "1.1", D(2026, 3, 2), D(2026, 3, 6))
    with pytest.raises(ScheduleError, match="最末级"):
        service.record_progress(session=session, item=top, percent=10, by="site")
    with pytest.raises(ScheduleError, match="0 到 100"):
        service.record_progress(session=session, item=leaf, percent=101, by="site")
    service.record_progress(
        session=session, item=leaf, percent="30", by="site", note="基础开挖", today=D(2026, 3, 3)
    )
    assert leaf.actual_start == D(2026, 3, 3) and leaf.actual_end is None
    service.record_progress(session=session, item=leaf, percent=100, by="site", today=D(2026, 3, 6))
    assert leaf.percent_complete == Decimal("100.00") and leaf.actual_end == D(2026, 3, 6)
    history = session.scalars(sa.select(WbsProgress).order_by(WbsProgress.id)).all()
    assert [(h.percent, h.recorded_by, h.note) for h in history] == [
        (Decimal("30.00"), "site", "基础开挖"),
        (Decimal("100.00"), "site", ""),
    ]


def test_rebaselining_keeps_history(session, project):
    item(session, project, "1", D(2026, 3, 2), D(2026, 3, 27))
    leaf = item(session, project, "1.1", D(2026, 3, 2), D(2026, 3, 13))
    first = service.create_baseline(session=session, project_id=project.id, by="planner")
    service.update_item(session=session, item=leaf, planned_end=D(2026, 3, 20))
    with pytest.raises(ScheduleError, match="原因"):
        service.create_baseline(session=session, project_id=project.id, by="planner")
    second = service.create_baseline(session=session, project_id=project.id, by="planner", reason="设计变更")
    assert (first.number, second.number) == (1, 2)
    ends = dict(
        session.execute(
            sa.select(WbsBaselineItem.baseline_id, WbsBaselineItem.planned_end).where(
                WbsBaselineItem.item_id == leaf.id
            )
        ).all()
    )
    assert ends == {first.id: D(2026, 3, 13), second.id: D(2026, 3, 20)}
    assert service.baseline_of(session=session, project_id=project.id).number == 2
    assert service.baseline_of(session=session, project_id=project.id, number=1).id == first.id


def test_payment_milestone_link_must_be_of_the_same_project(session, project, owner):
    from backend.contracts.models import Contract, PaymentMilestone

    from .conftest import make_project

    other = make_project(session, code="2026-330100-48-01-000009", owner=owner)
    milestones = {}
    for proj, number in ((project, "HT-1"), (other, "HT-2")):
        contract = Contract(
            number=number,
            name="施工合同",
            project_id=proj.id,
            party_a_unit_id=owner.id,
            party_b_unit_id=owner.id,
            amount=Decimal("100.00"),
        )
        session.add(contract)
        session.flush()
        milestone = PaymentMilestone(contract_id=contract.id, seq=1, name="主体封顶", amount=Decimal("50.00"))
        session.add(milestone)
        session.flush()
        milestones[number] = milestone
    with pytest.raises(ScheduleError, match="不属于本项目"):
        item(session, project, "1", D(2026, 3, 2), D(2026, 3, 9), payment_milestone_id=milestones["HT-2"].id)
    linked = item(
        session,
        project,
        "1",
        D(2026, 3, 2),
        D(2026, 3, 9),
        is_milestone=True,
        payment_milestone_id=milestones["HT-1"].id,
    )
    assert linked.payment_milestone_id == milestones["HT-1"].id
    with pytest.raises(ScheduleError, match="不属于本项目"):
        service.update_item(session=session, item=linked, payment_milestone_id=milestones["HT-2"].id)
