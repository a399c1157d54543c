"""The signals of a platform project (backend/risk/signals.py) from real rows, against values
worked out by hand.

The project (planned 2 March – 31 December 2026, 2026 official calendar: 清明 4–6 April off):
- WBS: 1 基础工程 2–13 March (10 working days), weight 1, a milestone, 30 % on 6 March and
  60 % on 12 March; 2 主体结构 16 March – 24 April (29 working days), weight 3, 10 % on 20 March.
- Contract HT-RISK-001 (1,000,000): 基础工程完工 30 % linked to WBS 1, 主体结构完工 50 % to WBS 3
  (weight 0, same dates as WBS 1, added after the baseline), 竣工验收 20 % unlinked. The first is
  disbursed on 18 March.
- Tickets: A raised 3 March, due 6 March, cancelled 11 March; B raised 10 March, due 18 March;
  C raised 17 March, due 10 April.
- A step with a 3-working-day limit started Monday 16 March (due end of 19 March), another
  on 24 March (due end of 27 March, not late on as_of).
- Check-ins 3, 5, 17 March and Monday 23 March 06:00 (still Sunday in UTC), one on 27 March.
- Daily logs 3–5 March (40 sunny, 30 rain, 35 cloudy + shortage), 17–18 March (20 heavy rain
  + shortage, 25 overcast), 24 March (50 fog), 26 March (after as_of).
as_of is Wednesday 25 March 2026.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine

from backend.contracts import service as contracts
from backend.contracts.models import Payment
from backend.org.models import Region, Unit
from backend.projects.models import Project
from backend.risk import signals
from backend.risk.history import dump_line, parse_line
from backend.schedule import service as schedule
from backend.site.models import ProjectSite, SiteCheckin, SiteLog, SiteLogShortage, SiteLogWorkforce
from backend.tickets import service as tickets
from backend.workdays.service import get_calendar, seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 3, 25)
CODE = "2026-330100-48-01-000777"

PROBE_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs"
  targetNamespace="http://keyproject.gov.cn/bpmn/test">
  <bpmn:process id="risk_signal_probe" name="时限测试" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="初审"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="formJsonSchemaFilename" value="approval_review.json"/>
      <spiffworkflow:property name="candidateGroups" value="reviewer"/>
      <spiffworkflow:property name="timeLimitWorkingDays" value="3"/>
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def bj(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A 2026 Beijing wall-clock time, in UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture()
def units(session):
    seed_from_chinese_calendar(session=session, first_year=2026, last_year=2026)
    files = {
        "milestone_payment.bpmn": (ROOT / "processes" / "milestone_payment.bpmn").read_text(encoding="utf-8"),
        "rectification.bpmn": (ROOT / "processes" / "rectification.bpmn").read_text(encoding="utf-8"),
        "risk_signal_probe.bpmn": PROBE_BPMN,
    }
    for name, text in files.items():
        deploy_files(session=session, files={name: text}, forms_dir=ROOT / "forms", deployed_by="test")
    session.add(Region(code="330100", name="杭州市", level="city"))
    owner = Unit(name="杭州市城市建设投资集团有限公司", kind="owner", region_code="330100")
    contractor = Unit(name="浙江省建工集团有限责任公司", kind="contractor", region_code="330100")
    session.add_all([owner, contractor])
    session.flush()
    return owner, contractor


def make_project(session, owner: Unit, *, code: str = CODE, status: str = "in_construction") -> Project:
    project = Project(
        code=code,
        name="杭州市城东快速路工程",
        owner_unit_id=owner.id,
        region_code="330100",
        industry="交通运输",
        nature="new",
        total_investment=Decimal("50000000.00"),
        planned_start=date(2026, 3, 2),
        planned_end=date(2026, 12, 31),
        status=status,
    )
    session.add(project)
    session.flush()
    return project


def add_log(session, project, day: date, weather: str, headcount: int, shortage: bool = False) -> None:
    log = SiteLog(
        project_id=project.id,
        log_date=day,
        weather=weather,
        headcount=headcount,
        created_by="builder",
        updated_by="builder",
        workforce=[SiteLogWorkforce(trade="civil", headcount=headcount)],
        shortages=[SiteLogShortage(material="水泥", quantity=Decimal("20"), unit="吨")] if shortage else [],
    )
    session.add(log)


@pytest.fixture()
def world(session, units):
    owner, contractor = units
    project = make_project(session, owner)
    with time_machine.travel(bj(3, 2), tick=False):
        contract = contracts.create_contract(
            session=session,
            project_id=project.id,
            number="HT-RISK-001",
            name="城东快速路一标段施工合同",
            party_a_unit_id=owner.id,
            party_b_unit_id=contractor.id,
            supervisor_unit_id=None,
            amount="1000000.00",
            milestones=[
                {"name": "基础工程完工", "percentage": "30"},
                {"name": "主体结构完工", "percentage": "50"},
                {"name": "竣工验收", "percentage": "20"},
            ],
            signed_on=date(2026, 2, 20),
        )
        m1, m2, _m3 = contract.milestones
        foundation = schedule.create_item(
            session=session,
            project_id=project.id,
            code="1",
            name="基础工程",
            planned_start=date(2026, 3, 2),
            planned_end=date(2026, 3, 13),
            weight=Decimal("1"),
            is_milestone=True,
            payment_milestone_id=m1.id,
        )
        structure = schedule.create_item(
            session=session,
            project_id=project.id,
            code="2",
            name="主体结构",
            planned_start=date(2026, 3, 16),
            planned_end=date(2026, 4, 24),
            weight=Decimal("3"),
        )
        schedule.create_baseline(session=session, project_id=project.id, by="planner")
    session.add(
        ProjectSite(
            project_id=project.id,
            latitude=Decimal("30.25"),
            longitude=Decimal("120.15"),
            radius_m=300,
            updated_by="t",
        )
    )
    session.commit()
    # WBS 3 dates the second payment; added after the baseline, it has no plan until the next.
    schedule.create_item(
        session=session,
        project_id=project.id,
        code="3",
        name="主体结构付款节点",
        planned_start=date(2026, 3, 2),
        planned_end=date(2026, 3, 13),
        weight=Decimal("0"),
        payment_milestone_id=m2.id,
    )
    session.commit()
    for moment, item, percent in (
        (bj(3, 6), foundation, 30),
        (bj(3, 12), foundation, 60),
        (bj(3, 20), structure, 10),
    ):
        with time_machine.travel(moment, tick=False):
            schedule.record_progress(session=session, item=item, percent=percent, by="builder")
            session.commit()
    # The first payment disbursed on 18 March (the milestone_payment process's end state).
    session.add(
        Payment(
            number="FK-RISK-1",
            contract_id=contract.id,
            milestone_id=m1.id,
            amount=Decimal("300000.00"),
            state="disbursed",
            requested_at=bj(3, 16),
            disbursed_at=bj(3, 18),
            year=2026,
        )
    )
    m1.state, m1.paid_at = "paid", bj(3, 18)
    raised = {}
    for key, moment, deadline in (
        ("A", bj(3, 3), date(2026, 3, 6)),
        ("B", bj(3, 10), date(2026, 3, 18)),
        ("C", bj(3, 17), date(2026, 4, 10)),
    ):
        with time_machine.travel(moment, tick=False):
            raised[key] = tickets.raise_ticket(
                session=session,
                project_id=project.id,
                source="inspection",
                category="safety",
                severity="general",
                description="基坑东侧临边防护缺失",
                evidence=[],
                deadline=deadline,
                raised_by="inspector",
            )
            session.commit()
    with time_machine.travel(bj(3, 11), tick=False):
        tickets.cancel_ticket(session=session, ticket_id=raised["A"].id, actor="inspector", reason="登记错误")
        session.commit()
    for moment in (bj(3, 16), bj(3, 24)):  # due at the end of 19 March, and of 27 March
        with time_machine.travel(moment, tick=False):
            workflow.start_instance(
                session=session, process_key="risk_signal_probe", business_key=project.code, started_by="t"
            )
            session.commit()
    for moment in (bj(3, 3, 9), bj(3, 5, 9), bj(3, 17, 9), bj(3, 23, 6), bj(3, 27, 9)):
        session.add(SiteCheckin(project_id=project.id, username="builder", checked_in_at=moment, flags=[]))
    for day, weather, headcount, shortage in (
        (date(2026, 3, 3), "sunny", 40, False),
        (date(2026, 3, 4), "rain", 30, False),
        (date(2026, 3, 5), "cloudy", 35, True),
        (date(2026, 3, 17), "heavy_rain", 20, True),
        (date(2026, 3, 18), "overcast", 25, False),
        (date(2026, 3, 24), "fog", 50, False),
        (date(2026, 3, 26), "heat", 99, True),
    ):
        add_log(session, project, day, weather, headcount, shortage)
    session.commit()
    return project, contractor, raised


def test_current_signals_of_a_small_project(session, world):
    project, contractor, raised = world
    s = signals.current_signals(session=session, project=project, as_of=AS_OF)
    assert s.project_id == project.id and s.project_code == CODE and s.as_of == AS_OF
    # Plan (the baseline, without WBS 3): WBS 1 done, WBS 2 8 of 29 working days:
    # (1·100 + 3·800/29) / 4 = 45.69 %.
    assert s.planned_progress == pytest.approx(0.4569)
    # Progress: (1·60 + 3·10 + 0·0) / 4 = 22.5 %.
    assert s.actual_progress == pytest.approx(0.225)
    assert s.overdue_milestones == (("基础工程", 12),)  # planned end 13 March, 60 %
    assert s.days_since_checkin == 2  # last 23 March; the one of 27 March is after as_of
    # 基础工程完工 is paid; 主体结构完工 dated 13 March (WBS 3) is not; 竣工验收 has no date.
    assert s.overdue_payments == (("HT-RISK-001 主体结构完工", 12),)
    # The step due at the end of 19 March: 20, 23, 24, 25 March late; ticket B due end of 18
    # March: 19, 20, 23, 24, 25.
    assert s.overdue_steps == (("初审", 4), (raised["B"].number, 5))
    assert s.open_tickets == 2 and s.overdue_tickets == 1
    assert s.responsible_unit_id == contractor.id


def test_weekly_history_of_a_small_project(session, world):
    project, contractor, _raised = world
    h = signals.weekly_history(session=session, project=project, as_of=AS_OF)
    assert (h.project_id, h.industry, h.region_code, h.contractor) == (
        CODE,
        "交通运输",
        "330100",
        "浙江省建工集团有限责任公司",
    )
    assert h.total_investment == Decimal("50000000.00")
    assert (h.planned_start, h.planned_end, h.actual_end) == (date(2026, 3, 2), date(2026, 12, 31), None)
    assert [w.week_start for w in h.weeks] == [date(2026, 3, d) for d in (2, 9, 16, 23)]
    w1, w2, w3, w4 = h.weeks
    # Plan at each week's end (8, 15, 22, 25 March): WBS 1 5/10 working days, then 100;
    # WBS 2 from 16 March: 5/29, 8/29.
    assert [w.planned_progress for w in h.weeks] == pytest.approx([0.125, 0.25, 0.3793, 0.4569])
    assert [w.actual_progress for w in h.weeks] == pytest.approx([0.075, 0.15, 0.225, 0.225])
    assert [w.planned_paid for w in h.weeks] == [Decimal("0.00")] + [Decimal("800000.00")] * 3
    assert [w.actual_paid for w in h.weeks] == [Decimal("0.00")] * 2 + [Decimal("300000.00")] * 2
    # A open 3–11 March (due 6 March: overdue by 8 March); B from 10 March, overdue after 18 March.
    assert [(w.open_tickets, w.overdue_tickets) for w in h.weeks] == [(1, 1), (1, 0), (2, 1), (2, 1)]
    # The check-in of Monday 23 March 06:00 is in week 4 (Beijing), not week 3 (UTC).
    assert [w.checkins for w in h.weeks] == [2, 0, 1, 1]
    # Mean headcount (40+30+35)/3 = 35, carried into week 2; (20+25)/2 = 22.5 -> 23; 50.
    assert [w.workforce for w in h.weeks] == [35, 35, 23, 50]
    assert [w.material_shortage_days for w in h.weeks] == [1, 0, 1, 0]
    assert [w.bad_weather_days for w in h.weeks] == [1, 0, 1, 0]  # rain, heavy rain; fog is not
    assert w1.week_start.weekday() == w2.week_start.weekday() == w3.week_start.weekday() == 0
    assert w4.week_start == date(2026, 3, 23)


def test_the_weekly_plan_is_the_schedules_formula(session, world):
    """The prefix-count curve of weekly_history gives schedule.planned_progress's numbers,
    across 清明 (4–6 April off) and past the plan's end."""
    project, _contractor, _raised = world
    items = schedule.items_of(session=session, project_id=project.id)
    baseline = schedule.baseline_of(session=session, project_id=project.id)
    curve = signals._PlannedCurve(get_calendar(session=session), baseline, date(2026, 6, 30))
    for day in (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 9), date(2026, 4, 3), date(2026, 4, 6)):
        assert curve.at(day) == schedule.planned_progress(session=session, baseline=baseline, at=day)[None]
    for day in (date(2026, 4, 8), date(2026, 4, 24), date(2026, 6, 30)):
        assert curve.at(day) == schedule.planned_progress(session=session, baseline=baseline, at=day)[None]
    assert len(items) == 3  # WBS 3 came after the baseline: not in the plan until the next one
    assert curve.at(date(2026, 4, 24)) == Decimal("100.00")


def test_a_project_without_wbs_site_or_contract(session, units):
    owner, _contractor = units
    project = make_project(session, owner, status="approved")
    session.commit()
    s = signals.current_signals(session=session, project=project, as_of=AS_OF)
    assert s.planned_progress is None and s.actual_progress is None
    assert s.overdue_milestones == () and s.overdue_payments == () and s.overdue_steps == ()
    assert s.days_since_checkin is None
    assert (s.open_tickets, s.overdue_tickets) == (0, 0)
    assert s.responsible_unit_id == owner.id
    h = signals.weekly_history(session=session, project=project, as_of=AS_OF)
    assert h.contractor == signals.NO_CONTRACTOR and h.actual_end is None  # "未签约"
    assert len(h.weeks) == 4
    assert {(w.planned_progress, w.actual_progress, w.workforce, w.checkins) for w in h.weeks} == {
        (0.0, 0.0, 0, 0)
    }
    # Before its planned start the project has no weeks yet.
    assert signals.weekly_history(session=session, project=project, as_of=date(2026, 2, 20)).weeks == ()


def test_no_checkin_counts_from_the_start_of_construction(session, units):
    owner, _contractor = units
    project = make_project(session, owner)
    session.add(
        ProjectSite(
            project_id=project.id,
            latitude=Decimal("30.25"),
            longitude=Decimal("120.15"),
            radius_m=300,
            updated_by="t",
        )
    )
    session.commit()
    # No check-in yet: counted from the planned start, 2 March.
    assert signals.current_signals(session=session, project=project, as_of=AS_OF).days_since_checkin == 23
    assert (
        signals.current_signals(session=session, project=project, as_of=date(2026, 2, 1)).days_since_checkin
        == 0
    )


def test_projects_under_watch_and_the_end_of_a_finished_project(session, units):
    owner, _contractor = units
    watched = [
        make_project(session, owner, code="2026-330100-48-01-000101", status="approved"),
        make_project(session, owner, code="2026-330100-48-01-000102", status="in_construction"),
    ]
    done = make_project(session, owner, code="2026-330100-48-01-000103", status="completed")
    for status, n in (("draft", 4), ("applying", 5), ("rejected", 6)):
        make_project(session, owner, code=f"2026-330100-48-01-00010{n}", status=status)
    with time_machine.travel(bj(3, 2), tick=False):
        leaf = schedule.create_item(
            session=session,
            project_id=done.id,
            code="1",
            name="全部工程",
            planned_start=date(2026, 3, 2),
            planned_end=date(2026, 3, 13),
        )
    with time_machine.travel(bj(3, 20), tick=False):
        schedule.record_progress(
            session=session,
            item=leaf,
            percent=100,
            by="builder",
            actual_start=date(2026, 3, 2),
            actual_end=date(2026, 3, 19),
        )
    session.commit()
    assert [p.id for p in signals.projects_under_watch(session=session)] == [p.id for p in watched]
    history = signals.weekly_history(session=session, project=done, as_of=AS_OF)
    assert history.actual_end == date(2026, 3, 19)
    assert history.weeks[-1].actual_progress == 1.0


def test_the_platform_history_is_a_valid_exchange_line(session, world):
    """What the model scores is what `flask risk import` would accept, unchanged."""
    project, _contractor, _raised = world
    h = signals.weekly_history(session=session, project=project, as_of=AS_OF)
    assert parse_line(dump_line(h)) == h


def test_site_data_before_the_planned_start_opens_the_weeks_within_the_format(session, units):
    owner, _contractor = units
    project = make_project(session, owner)
    add_log(session, project, date(2026, 2, 10), "sunny", 12)
    session.add(SiteCheckin(project_id=project.id, username="b", checked_in_at=bj(2, 11), flags=[]))
    session.commit()
    h = signals.weekly_history(session=session, project=project, as_of=date(2026, 3, 3))
    assert [w.week_start for w in h.weeks][:2] == [date(2026, 2, 9), date(2026, 2, 16)]
    assert (h.weeks[0].workforce, h.weeks[0].checkins) == (12, 1)
    assert h.weeks[-1].week_start == date(2026, 3, 2) and h.weeks[-1].workforce == 12
    # Much earlier data: the weeks start at the format's bound, 92 days before the plan
    # (30 November 2025, a Sunday): the Monday after it.
    session.add(
        SiteCheckin(
            project_id=project.id, username="b", checked_in_at=bj(1, 5) - timedelta(days=120), flags=[]
        )
    )
    session.commit()
    h = signals.weekly_history(session=session, project=project, as_of=date(2026, 3, 3))
    assert h.weeks[0].week_start == date(2025, 12, 1)
