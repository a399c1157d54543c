"""开工申报 and 竣工验收 (backend/projects/completion.py): who may act, the dates (Beijing
calendar), the status transitions, one acceptance per project (also when two are sent at once),
and the pages. "Today" is passed explicitly: 2026-04-20."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from backend.accounts.service import set_password
from backend.audit.models import AuditRecord
from backend.evidence.models import EvidenceRecord
from backend.files import access as file_access
from backend.org.models import Department, User
from backend.projects import completion
from backend.projects.models import Project, ProjectCompletion
from tests.api.conftest import PASSWORD, make_project, org, signed_in  # noqa: F401  (fixtures)
from tests.concurrency import race

BEIJING = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 4, 20)
CODE = "2026-330106-48-01-000201"  # 西湖区, the applicant's unit
# 2026-03-09 17:30 UTC is 2026-03-10 01:30 in Beijing: the 批复 date is 10 March.
APPROVED_AT = datetime(2026, 3, 9, 17, 30, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture()
def project(session, org):  # noqa: F811
    made = make_project(session, org, CODE, "330106", approved_at=APPROVED_AT)
    # 宁波's city-level 发改 reviewer: out of 西湖区's scope.
    fgw = session.scalar(sa.select(Department).filter_by(code="fgw"))
    session.add(
        User(
            username="nb_fgw",
            display_name="宁波发改",
            department_id=fgw.id,
            region_code="330200",
            roles=["reviewer"],
        )
    )
    # Another owner unit's applicant.
    session.add(User(username="other_owner", display_name="他人", unit_id=org.other_unit.id, roles=["owner"]))
    session.commit()
    return made


def user(session, username: str) -> User:
    return session.scalar(sa.select(User).filter_by(username=username))


def start(session, project, who="applicant", day="2026-03-20", permit="330106202603200101"):
    return completion.report_start(
        session=session,
        project=project,
        actor=user(session, who),
        actual_start=day,
        permit_no=permit,
        today=TODAY,
    )


def accept(session, project, who="fgw_reviewer", **fields):
    values = {
        "accepted_on": "2026-04-18",
        "conclusion": "passed",
        "opinion": "",
        "annual_benefit": "600.00",
        "new_jobs": "12",
        "annual_tax": "75.50",
        "other_benefits": "改善通行条件",
    }
    values.update(fields)
    return completion.record_acceptance(
        session=session, project=project, actor=user(session, who), today=TODAY, **values
    )


def refusal(call) -> dict:
    with pytest.raises(completion.CompletionError) as caught:
        call()
    return caught.value.errors


# --- 开工申报 --------------------------------------------------------------------------------------


def test_the_applicant_reports_the_start_and_it_is_audited(session, project):
    start(session, project)
    session.commit()
    session.expire_all()
    saved = session.get(Project, project.id)
    assert (saved.status, saved.actual_start, saved.construction_permit_no) == (
        "in_construction",
        date(2026, 3, 20),
        "330106202603200101",
    )
    audit = session.scalar(sa.select(AuditRecord).filter_by(action="project.start"))
    assert (audit.username, audit.object_id, audit.detail["actual_start"]) == (
        "applicant",
        CODE,
        "2026-03-20",
    )


def test_the_start_date_is_between_the_approval_and_today_in_beijing(session, project):
    # Future: 21 April when today is 20 April.
    assert refusal(lambda: start(session, project, day="2026-04-21")) == {
        "actual_start": "实际开工日期不能晚于今天"
    }
    # 9 March is the 批复's UTC date but before its Beijing date (10 March).
    with pytest.raises(completion.CompletionError) as caught:
        start(session, project, day="2026-03-09")
    assert caught.value.errors == {"actual_start": "实际开工日期不能早于批复日期 %(date)s"}
    assert str(caught.value) == "实际开工日期不能早于批复日期 2026-03-10"
    assert refusal(lambda: start(session, project, day="20260320")) == {
        "actual_start": "日期格式应为 YYYY-MM-DD"
    }
    assert refusal(lambda: start(session, project, day="")) == {"actual_start": "请填写实际开工日期"}
    assert refusal(lambda: start(session, project, permit="x" * 61)) == {
        "permit_no": "施工许可证号不能超过60个字符"
    }
    assert project.status == "approved" and project.actual_start is None
    # The approval day itself and today are allowed; the permit is optional.
    start(session, project, day="2026-03-10", permit="")
    assert (project.status, project.actual_start, project.construction_permit_no) == (
        "in_construction",
        date(2026, 3, 10),
        None,
    )


def test_only_the_owner_units_applicant_reports_the_start_of_an_approved_project(session, project):
    for who in ("other_owner", "fgw_head", "fgw_reviewer"):
        assert refusal(lambda who=who: start(session, project, who=who)) == {
            "_": "只有本项目建设单位的申报人可以申报开工"
        }, who
    project.status = "applying"
    assert refusal(lambda: start(session, project)) == {"_": "只有已批复的项目可以申报开工"}
    project.status = "approved"
    start(session, project)
    # A second report finds the project in construction.
    assert refusal(lambda: start(session, project)) == {"_": "只有已批复的项目可以申报开工"}
    assert completion.may_report_start(user=user(session, "applicant"), project=project)
    assert not completion.may_report_start(user=user(session, "admin"), project=project)


def test_two_start_reports_at_once_start_the_project_once(app, session, project):
    project_id = project.id
    session.rollback()

    def report(day):
        def action(s):
            return completion.report_start(
                session=s,
                project=s.get(Project, project_id),
                actor=s.scalar(sa.select(User).filter_by(username="applicant")),
                actual_start=day,
                today=TODAY,
            ).actual_start

        return action

    outcomes = race(app, [report("2026-03-20"), report("2026-03-25")])
    started = [o for o in outcomes if isinstance(o, date)]
    refused = [o for o in outcomes if isinstance(o, completion.CompletionError)]
    assert len(started) == 1 and len(refused) == 1, outcomes
    session.expire_all()
    saved = session.get(Project, project_id)
    assert (saved.status, saved.actual_start) == ("in_construction", started[0])
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(AuditRecord).filter_by(action="project.start"))
        == 1
    )


# --- 竣工验收 --------------------------------------------------------------------------------------


def test_a_passed_acceptance_completes_the_project_with_its_benefits(session, project):
    start(session, project)
    row = accept(session, project)
    session.commit()
    session.expire_all()
    saved = session.get(Project, project.id)
    assert (saved.status, saved.actual_end) == ("completed", date(2026, 4, 18))
    row = session.get(ProjectCompletion, row.id)
    assert (
        row.conclusion,
        row.annual_benefit,
        row.new_jobs,
        row.annual_tax,
        row.rounds,
        row.recorded_by,
    ) == (
        "passed",
        Decimal("600.00"),
        12,
        Decimal("75.50"),
        1,
        "fgw_reviewer",
    )
    audit = session.scalar(sa.select(AuditRecord).filter_by(action="project.accept"))
    assert (audit.username, audit.detail["conclusion"], audit.detail["annual_benefit"]) == (
        "fgw_reviewer",
        "passed",
        "600.00",
    )
    # A second acceptance is refused.
    assert refusal(lambda: accept(session, saved, who="fgw_head")) == {
        "_": "该项目已通过竣工验收，不能重复验收"
    }
    assert session.scalar(sa.select(sa.func.count()).select_from(ProjectCompletion)) == 1


def test_a_failed_acceptance_keeps_the_project_in_construction_until_the_next_one(session, project):
    start(session, project)
    assert refusal(lambda: accept(session, project, conclusion="failed")) == {
        "opinion": "验收不合格时请填写验收意见（需整改的问题）"
    }
    # Benefits are optional when it fails.
    row = accept(
        session,
        project,
        conclusion="failed",
        opinion="消防通道未贯通",
        annual_benefit="",
        new_jobs="",
        annual_tax="",
    )
    assert (project.status, project.actual_end, row.conclusion, row.annual_benefit, row.rounds) == (
        "in_construction",
        None,
        "failed",
        None,
        1,
    )
    # After rectification: passed, the same row, second round.
    again = accept(session, project, accepted_on="2026-04-20")
    assert again.id == row.id and (again.conclusion, again.rounds, again.opinion) == ("passed", 2, "")
    assert (project.status, project.actual_end) == ("completed", date(2026, 4, 20))
    assert session.scalar(sa.select(sa.func.count()).select_from(ProjectCompletion)) == 1


def test_acceptance_dates_conclusion_and_benefits_are_checked(session, project):
    start(session, project)  # actual start 20 March
    assert refusal(lambda: accept(session, project, accepted_on="2026-03-19")) == {
        "accepted_on": "验收日期不能早于实际开工日期 %(date)s"
    }
    assert refusal(lambda: accept(session, project, accepted_on="2026-04-21")) == {
        "accepted_on": "验收日期不能晚于今天"
    }
    assert refusal(lambda: accept(session, project, conclusion="ok")) == {
        "conclusion": "请选择验收结论（合格或不合格）"
    }
    assert refusal(
        lambda: accept(session, project, annual_benefit="", new_jobs="-1", annual_tax="1.234")
    ) == {
        "annual_benefit": "验收合格时请填写年均经济效益",
        "new_jobs": "新增就业应为不小于0的整数（人）",
        "annual_tax": "年均税收应为不小于0、最多两位小数的金额（元）",
    }
    assert refusal(lambda: accept(session, project, annual_benefit=600.0)) == {
        "annual_benefit": "金额须以文本填写，不接受浮点数"
    }
    assert refusal(lambda: accept(session, project, annual_benefit="-5")) == {
        "annual_benefit": "年均经济效益应为不小于0、最多两位小数的金额（元）"
    }
    # The actual start day itself, zero benefits and thousands separators are fine.
    row = accept(
        session, project, accepted_on="2026-03-20", annual_benefit="1,000.5", new_jobs="0", annual_tax="0"
    )
    assert (row.annual_benefit, row.new_jobs, row.annual_tax) == (Decimal("1000.50"), 0, Decimal("0.00"))


def test_only_fgw_staff_in_scope_accept_and_only_in_construction(session, project):
    assert refusal(lambda: accept(session, project)) == {"_": "只有在建项目可以竣工验收"}  # still approved
    start(session, project)
    for who in ("cz_head", "zj_reviewer", "applicant", "nb_fgw", "admin", "ops"):
        assert refusal(lambda who=who: accept(session, project, who=who)) == {
            "_": "只有发改部门负责竣工验收的人员可以记录本项目的竣工验收"
        }, who
    assert completion.may_accept(session=session, user=user(session, "fgw_head"), project=project)
    assert not completion.may_accept(session=session, user=user(session, "fgw_window"), project=project)
    accept(session, project, who="fgw_head")
    assert project.status == "completed"


def test_two_acceptances_at_once_make_one_row(app, session, project):
    start(session, project)
    session.commit()
    project_id = project.id
    session.rollback()

    def acceptance(who, benefit):
        def action(s):
            row = completion.record_acceptance(
                session=s,
                project=s.get(Project, project_id),
                actor=s.scalar(sa.select(User).filter_by(username=who)),
                accepted_on="2026-04-18",
                conclusion="passed",
                annual_benefit=benefit,
                new_jobs="3",
                annual_tax="1.00",
                today=TODAY,
            )
            return row.annual_benefit

        return action

    outcomes = race(app, [acceptance("fgw_reviewer", "100.00"), acceptance("fgw_head", "200.00")])
    saved = [o for o in outcomes if isinstance(o, Decimal)]
    refused = [o for o in outcomes if isinstance(o, completion.CompletionError)]
    assert len(saved) == 1 and len(refused) == 1, outcomes
    session.expire_all()
    rows = session.scalars(sa.select(ProjectCompletion)).all()
    assert [(r.project_id, r.annual_benefit) for r in rows] == [(project_id, saved[0])]
    assert session.get(Project, project_id).status == "completed"


# --- pages ---------------------------------------------------------------------------------------


@pytest.fixture()
def people(session, project):
    for username in ("fgw_reviewer", "cz_reviewer", "other_owner"):
        set_password(user=user(session, username), password=PASSWORD, enforce_policy=False)
    session.commit()
    return project


def test_the_hub_shows_each_button_to_who_may_act(app, session, people):
    hub = f"/projects/{CODE}"
    assert 'data-action="start"' in signed_in(app, "applicant").get(hub).get_data(as_text=True)
    html = signed_in(app, "fgw_reviewer").get(hub).get_data(as_text=True)
    assert 'data-action="start"' not in html and 'data-action="accept"' not in html  # not started yet
    assert signed_in(app, "fgw_reviewer").get(f"{hub}/start").status_code == 403
    assert signed_in(app, "other_owner").get(f"{hub}/start").status_code in (403, 404)

    client = signed_in(app, "applicant")
    refused = client.post(f"{hub}/start", data={"actual_start": "2026-01-01", "permit_no": ""})
    assert refused.status_code == 400 and "实际开工日期不能早于批复日期 2026-03-10" in refused.get_data(
        as_text=True
    )
    response = client.post(f"{hub}/start", data={"actual_start": "2026-03-20", "permit_no": "P-1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(hub)
    session.expire_all()
    assert session.get(Project, people.id).status == "in_construction"

    html = signed_in(app, "fgw_reviewer").get(hub).get_data(as_text=True)
    assert 'data-action="accept"' in html and "2026-03-20" in html
    assert 'data-action="accept"' not in signed_in(app, "cz_reviewer").get(hub).get_data(as_text=True)
    assert signed_in(app, "cz_reviewer").post(f"{hub}/acceptance", data={}).status_code == 403


def test_recording_an_acceptance_with_its_document(app, session, people):
    start(session, people)
    session.commit()
    client = signed_in(app, "fgw_reviewer")
    form = {
        "accepted_on": "2026-03-25",
        "conclusion": "passed",
        "annual_benefit": "450.00",
        "new_jobs": "8",
        "annual_tax": "20",
        "other_benefits": "",
    }
    refused = client.post(f"/projects/{CODE}/acceptance", data={**form, "annual_benefit": ""})
    assert refused.status_code == 400 and "验收合格时请填写年均经济效益" in refused.get_data(as_text=True)
    from io import BytesIO

    response = client.post(
        f"/projects/{CODE}/acceptance",
        data={**form, "document": (BytesIO(PDF), "竣工验收报告.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    session.expire_all()
    row = session.scalar(sa.select(ProjectCompletion))
    assert (row.annual_benefit, row.document_name) == (Decimal("450.00"), "竣工验收报告.pdf")
    assert session.get(Project, people.id).status == "completed"
    # Deposited in the evidence ledger, readable by whoever sees the project.
    evidence = session.scalar(sa.select(EvidenceRecord).filter_by(file_sha256=row.document_sha256))
    assert (evidence.document_type, evidence.source) == ("acceptance", "completion")
    assert file_access.may_read(session=session, user=user(session, "applicant"), sha256=row.document_sha256)
    assert not file_access.may_read(session=session, user=user(session, "nb_fgw"), sha256=row.document_sha256)
    page = signed_in(app, "applicant").get(f"/projects/{CODE}/acceptance")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "¥450.00" in html and "data-file-link" in html
    assert 'id="acceptance-form"' not in html


def test_beijing_today_bounds_the_date(session, project):
    """Without `today`, the service uses the Beijing date of now (never the UTC date)."""
    start(session, project)
    late = datetime(2026, 4, 20, 23, 30, tzinfo=BEIJING)  # 15:30 UTC, same Beijing day
    assert late.astimezone(UTC).date() == date(2026, 4, 20)
    import time_machine

    with time_machine.travel(late, tick=False):
        assert refusal(
            lambda: completion.record_acceptance(
                session=session,
                project=project,
                actor=user(session, "fgw_reviewer"),
                accepted_on="2026-04-21",
                conclusion="passed",
                annual_benefit="1",
                new_jobs="1",
                annual_tax="1",
            )
        ) == {"accepted_on": "验收日期不能晚于今天"}
    early = datetime(2026, 4, 21, 1, 0, tzinfo=BEIJING)  # 20 April 17:00 UTC, 21 April in Beijing
    with time_machine.travel(early, tick=False):
        row = completion.record_acceptance(
            session=session,
            project=project,
            actor=user(session, "fgw_reviewer"),
            accepted_on="2026-04-21",
            conclusion="passed",
            annual_benefit="1",
            new_jobs="1",
            annual_tax="1",
        )
    assert row.accepted_on == date(2026, 4, 21)


def test_the_demo_loader_fills_starts_and_acceptances_once(session, project):
    from backend.projects.demo import load_construction

    project.status = "completed"  # a demo project made completed without the steps
    project.planned_start, project.planned_end = date(2026, 1, 1), date(2026, 3, 31)
    session.commit()
    assert load_construction(session=session) == 2  # its actual start and its acceptance
    row = session.scalar(sa.select(ProjectCompletion))
    # Planned start 1 January is before the 批复 (10 March, Beijing): the start is the 批复 date;
    # accepted on the planned end. Benefits: 12% and 1.5% of 1234.50 yuan, 2 jobs per million (≥ 1).
    assert project.actual_start == date(2026, 3, 10)
    assert (row.accepted_on, row.conclusion, project.actual_end) == (
        date(2026, 3, 31),
        "passed",
        date(2026, 3, 31),
    )
    assert (row.annual_benefit, row.annual_tax, row.new_jobs) == (Decimal("148.14"), Decimal("18.52"), 1)
    session.commit()
    assert load_construction(session=session) == 0
