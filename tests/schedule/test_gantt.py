"""The Gantt chart's data (service.gantt_rows) and its date changes (service.reschedule):
rows out → a change in → rows out reflect it; refused changes leave the database as it was."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditRecord
from backend.schedule import service
from backend.schedule.models import WbsItem
from backend.schedule.service import ScheduleError
from backend.site.models import SiteLog, SiteLogWbs

D = date


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


@pytest.fixture()
def plan(session, project):
    """1 (03-02..03-27, 20 working days) > 1.1 (03-02..03-06, 5) → 1.2 (03-09..03-20, 10,
    milestone, weight 3); 1 → 2 (03-30..04-03, 5). Longest path 1 → 2 = 25 working days:
    critical {1, 2}; 1.1 → 1.2 is 15."""
    items = {
        "1": item(session, project, "1", D(2026, 3, 2), D(2026, 3, 27)),
        "1.1": item(session, project, "1.1", D(2026, 3, 2), D(2026, 3, 6)),
        "1.2": item(session, project, "1.2", D(2026, 3, 9), D(2026, 3, 20), weight="3", is_milestone=True),
        "2": item(session, project, "2", D(2026, 3, 30), D(2026, 4, 3)),
    }
    service.add_dependency(session=session, predecessor=items["1.1"], successor=items["1.2"], by="planner")
    service.add_dependency(session=session, predecessor=items["1"], successor=items["2"], by="planner")
    session.commit()
    return items


def rows_by_code(data):
    return {row["code"]: row for row in data["items"]}


def test_rows_carry_plan_progress_dependencies_and_flags(session, project, plan):
    service.record_progress(session=session, item=plan["1.1"], percent=100, by="planner", today=D(2026, 3, 6))
    data = service.gantt_rows(session=session, project_id=project.id, at=D(2026, 3, 23))
    assert [row["code"] for row in data["items"]] == ["1", "1.1", "1.2", "2"]
    assert data["today"] == "2026-03-23" and data["baseline"] is None and data["conflicts"] == []
    rows = rows_by_code(data)
    one, first, second, two = rows["1"], rows["1.1"], rows["1.2"], rows["2"]
    assert (second["id"], second["start"], second["end"]) == (plan["1.2"].id, "2026-03-09", "2026-03-20")
    # Progress rolled up by weight: (1·100 + 3·0) / 4 = 25; the project (25 + 0) / 2 = 12.5.
    assert (one["progress"], first["progress"], second["progress"]) == (25.0, 100.0, 0.0)
    assert data["progress"] == 12.5
    assert second["dependencies"] == [plan["1.1"].id] and two["dependencies"] == [plan["1"].id]
    assert one["dependencies"] == [] and first["dependencies"] == []
    assert [r["leaf"] for r in (one, first, second, two)] == [False, True, True, True]
    assert [r["level"] for r in (one, first, second, two)] == [1, 2, 2, 1]
    assert second["parent_id"] == one["id"] and one["parent_id"] is None
    assert [r["milestone"] for r in (one, first, second, two)] == [False, False, True, False]
    assert {code for code, r in rows.items() if r["critical"]} == {"1", "2"}
    # On 03-23, 1.2 (ended 03-20, 0 %) is overdue; 1.1 ended earlier but is done.
    assert {code for code, r in rows.items() if r["overdue"]} == {"1.2"}
    assert second["baseline_start"] is None


def test_a_date_change_round_trip_with_baseline(session, project, plan):
    service.create_baseline(session=session, project_id=project.id, by="planner")
    session.commit()
    before = rows_by_code(service.gantt_rows(session=session, project_id=project.id, at=D(2026, 3, 2)))
    assert before["1.2"]["baseline_start"] == "2026-03-09"

    conflicts = service.reschedule(
        session=session,
        item=plan["1.2"],
        planned_start=D(2026, 3, 11),
        planned_end=D(2026, 3, 24),
        by="planner",
    )
    session.commit()
    assert conflicts == []
    data = service.gantt_rows(session=session, project_id=project.id, at=D(2026, 3, 2))
    after = rows_by_code(data)
    assert (after["1.2"]["start"], after["1.2"]["end"]) == ("2026-03-11", "2026-03-24")
    # The baseline keeps the old plan; the other rows did not move.
    assert (after["1.2"]["baseline_start"], after["1.2"]["baseline_end"]) == ("2026-03-09", "2026-03-20")
    assert data["baseline"]["number"] == 1
    for code in ("1", "1.1", "2"):
        assert (after[code]["start"], after[code]["end"]) == (before[code]["start"], before[code]["end"])
    entry = session.scalars(
        sa.select(AuditRecord).where(AuditRecord.action == "wbs.change").order_by(AuditRecord.id.desc())
    ).first()
    assert entry.detail["op"] == "update" and entry.detail["code"] == "1.2"
    assert entry.detail["changes"] == {
        "planned_start": ["2026-03-09", "2026-03-11"],
        "planned_end": ["2026-03-20", "2026-03-24"],
    }


def test_moving_into_a_predecessor_warns_and_moves_nobody_else(session, project, plan):
    conflicts = service.reschedule(
        session=session,
        item=plan["1.1"],
        planned_start=D(2026, 3, 4),
        planned_end=D(2026, 3, 10),
        by="planner",
    )
    session.commit()
    expected = {
        "predecessor": plan["1.1"].id,
        "predecessor_code": "1.1",
        "predecessor_end": "2026-03-10",
        "successor": plan["1.2"].id,
        "successor_code": "1.2",
        "successor_start": "2026-03-09",
    }
    assert conflicts == [expected]
    assert service.gantt_rows(session=session, project_id=project.id, at=D(2026, 3, 2))["conflicts"] == [
        expected
    ]
    session.refresh(plan["1.2"])
    assert plan["1.2"].planned_start == D(2026, 3, 9)  # the successor was not moved along
    # Starting the day after the predecessor's end resolves it.
    assert (
        service.reschedule(
            session=session,
            item=plan["1.1"],
            planned_start=D(2026, 3, 2),
            planned_end=D(2026, 3, 8),
            by="planner",
        )
        == []
    )


def plan_dates(session, project):
    rows = session.execute(
        sa.select(WbsItem.code, WbsItem.planned_start, WbsItem.planned_end).where(
            WbsItem.project_id == project.id
        )
    )
    return {code: (start, end) for code, start, end in rows}


@pytest.mark.parametrize(
    ("code", "start", "end", "message"),
    [
        ("1.2", D(2026, 2, 27), D(2026, 3, 10), "之内"),  # before its parent starts
        ("1.2", D(2026, 3, 20), D(2026, 3, 31), "之内"),  # after its parent ends
        ("1.2", D(2026, 3, 12), D(2026, 3, 11), "不能早于"),
        ("1", D(2026, 3, 3), D(2026, 3, 27), "上级任务"),  # parents do not move in the chart
    ],
)
def test_refused_changes_leave_the_plan_unchanged(session, project, plan, code, start, end, message):
    before = plan_dates(session, project)
    audits = session.scalar(sa.select(sa.func.count()).select_from(AuditRecord))
    with pytest.raises(ScheduleError, match=message):
        service.reschedule(
            session=session, item=plan[code], planned_start=start, planned_end=end, by="planner"
        )
    session.rollback()
    assert plan_dates(session, project) == before
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)) == audits


def test_delete_and_remove_dependency_rules(session, project, plan):
    with pytest.raises(ScheduleError, match="有下级任务"):
        service.delete_item(session=session, item=plan["1"], by="planner")
    service.remove_dependency(session=session, predecessor=plan["1.1"], successor=plan["1.2"], by="planner")
    with pytest.raises(ScheduleError, match="不是 1.2 的前置任务"):
        service.remove_dependency(
            session=session, predecessor=plan["1.1"], successor=plan["1.2"], by="planner"
        )
    service.record_progress(session=session, item=plan["1.1"], percent=10, by="planner", today=D(2026, 3, 3))
    with pytest.raises(ScheduleError, match="已有进度填报记录"):
        service.delete_item(session=session, item=plan["1.1"], by="planner")
    service.create_baseline(session=session, project_id=project.id, by="planner")
    with pytest.raises(ScheduleError, match="已纳入基线 1"):
        service.delete_item(session=session, item=plan["2"], by="planner")
    extra = item(session, project, "3", D(2026, 4, 7), D(2026, 4, 10))
    service.add_dependency(session=session, predecessor=plan["2"], successor=extra, by="planner")
    extra_id = extra.id
    service.delete_item(session=session, item=extra, by="planner")
    session.commit()
    assert session.get(WbsItem, extra_id) is None
    assert service.dependencies_of(session=session, project_id=project.id) == [(plan["1"].id, plan["2"].id)]
    ops = [
        r.detail["op"]
        for r in session.scalars(
            sa.select(AuditRecord).where(AuditRecord.action == "wbs.change").order_by(AuditRecord.id)
        )
    ]
    assert ops[-2:] == ["dependency", "delete"] and "dependency_remove" in ops


def test_an_item_named_by_a_daily_log_is_not_deleted(session, project, plan):
    log = SiteLog(
        project_id=project.id, log_date=D(2026, 3, 3), weather="sunny", created_by="c", updated_by="c"
    )
    session.add(log)
    session.flush()
    session.add(SiteLogWbs(log_id=log.id, wbs_item_id=plan["1.1"].id))
    session.flush()
    with pytest.raises(ScheduleError, match="已被其他记录"):
        service.delete_item(session=session, item=plan["1.1"], by="planner")
    service.delete_item(session=session, item=plan["1.2"], by="planner")  # not named: deleted
    assert session.get(WbsItem, plan["1.1"].id) is not None
