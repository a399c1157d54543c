"""The risk pages (风险预警): who may see them, the data scope, the filters, the CSV export, the
thresholds form's round trip and the model cards. Warnings and scores are rows written here,
as W's evaluation writes them (tests/risk has the rules' and evaluation's own tests)."""

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditRecord
from backend.projects.models import Project
from backend.risk.models import RiskScore, RiskSetting, RiskWarning
from tests.authz.conftest import HZ_PROJECT, NB_PROJECT, world  # noqa: F401  (fixture)

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
VIEWERS = ("reviewer", "head", "finance", "inspector", "operator")
NOT_VIEWERS = (
    "owner",
    "window",
    "expert",
    "contractor",
    "supervisor",
    "designer",
    "sysadmin",
    "secadmin",
    "auditadmin",
)
MANAGERS = ("head", "operator")


def _project(session, code) -> Project:
    return session.scalar(sa.select(Project).where(Project.code == code))


def _warning(session, code, cause, grade, *, status="open", title=None, current=None, raised=NOW, **extra):
    project = _project(session, code)
    closed = status == "closed"
    warning = RiskWarning(
        project_id=project.id,
        cause=cause,
        source="model" if cause == "model_delay" else "rule",
        grade=grade,
        current_grade=None if closed else (current or grade),
        status=status,
        open_key=None if closed else f"{project.id}:{cause}",
        title=title or f"{cause} {grade}",
        detail={},
        history=[],
        raised_at=raised,
        evaluated_at=raised,
        closed_at=raised + timedelta(days=3) if closed else None,
        **extra,
    )
    session.add(warning)
    return warning


@pytest.fixture()
def warned(world, session):  # noqa: F811
    """HZ: a red milestone warning, a yellow check-in one, a closed payment one and 3 weeks of
    model scores; NB: an orange progress-lag warning."""
    _warning(session, HZ_PROJECT, "milestone_overdue", "red", title='里程碑"主体封顶"逾期 40 天')
    _warning(session, HZ_PROJECT, "no_checkin", "yellow", status="dispatched", title="连续 9 天无现场打卡")
    _warning(session, HZ_PROJECT, "payment_overdue", "orange", status="closed", title="=付款节点逾期 20 天")
    _warning(session, NB_PROJECT, "progress_lag", "orange", title="实际进度落后计划 12 个百分点")
    hz = _project(session, HZ_PROJECT)
    for i, p in enumerate((0.15, 0.32, 0.74)):
        session.add(
            RiskScore(
                project_id=hz.id,
                week_start=date(2026, 10, 12) + timedelta(weeks=i),
                probability=p,
                grade={0.15: None, 0.32: "yellow", 0.74: "red"}[p],
                model_version=3,
                factors=[{"feature": "gap_now", "text": "当前进度落后计划18个百分点", "contribution": 0.21}],
            )
        )
    session.commit()
    return world


@pytest.mark.parametrize("who", VIEWERS)
def test_viewers_see_the_list_and_the_project_page(app, warned, who):
    client = warned.client(app, who)
    page = client.get("/risk")
    assert page.status_code == 200, who
    html = page.get_data(as_text=True)
    assert "逾期 40 天" in html and "落后计划 12 个百分点" in html
    assert "付款节点逾期 20 天" not in html  # closed: history of the project page only
    project = client.get(f"/projects/{HZ_PROJECT}/risk")
    assert project.status_code == 200
    body = project.get_data(as_text=True)
    assert 'id="live-warnings"' in body and 'id="closed-warnings"' in body
    assert "付款节点逾期 20 天" in body
    assert "当前进度落后计划18个百分点" in body  # the newest week's factors
    assert "<polyline" in body and "data-latest-probability>74%" in body
    assert f'href="/projects/{HZ_PROJECT}/risk"' in body  # the tab


@pytest.mark.parametrize("who", NOT_VIEWERS)
def test_others_are_refused(app, warned, who):
    client = warned.client(app, who)
    for url in ("/risk", f"/projects/{HZ_PROJECT}/risk", "/risk/model", "/risk/settings", "/risk/export.csv"):
        assert client.get(url).status_code == 403, (who, url)


def test_the_data_scope_hides_other_regions(app, warned):
    client = warned.client(app, "hz_reviewer")  # 杭州: sees the Hangzhou project only
    html = client.get("/risk").get_data(as_text=True)
    assert "逾期 40 天" in html
    assert "落后计划 12 个百分点" not in html
    assert client.get(f"/projects/{NB_PROJECT}/risk").status_code == 404
    assert client.get("/projects/no-such-code/risk").status_code == 404
    rows = list(
        csv.reader(io.StringIO(client.get("/risk/export.csv").get_data(as_text=True).lstrip("\ufeff")))
    )
    assert [r[1] for r in rows[1:]] == [HZ_PROJECT, HZ_PROJECT]


def test_counts_and_filters(app, warned):
    client = warned.client(app, "head")
    html = client.get("/risk").get_data(as_text=True)
    counts = dict(re.findall(r'data-grade-count="(\w+)">.*?data-count>(\d+)<', html, re.S))
    assert counts == {"red": "1", "orange": "1", "yellow": "1"}

    def shown(**args) -> set[str]:
        body = client.get("/risk", query_string=args).get_data(as_text=True)
        return {t for t in ("逾期 40 天", "无现场打卡", "落后计划 12") if t in body}

    assert shown() == {"逾期 40 天", "无现场打卡", "落后计划 12"}
    assert shown(grade="red") == {"逾期 40 天"}
    assert shown(status="dispatched") == {"无现场打卡"}
    assert shown(cause="progress_lag") == {"落后计划 12"}
    assert shown(region="330200") == {"落后计划 12"}
    assert shown(region="330100") == {"逾期 40 天", "无现场打卡"}  # the city covers its districts
    assert shown(grade="nonsense") == {"逾期 40 天", "无现场打卡", "落后计划 12"}  # ignored


def test_red_comes_first(app, warned):
    html = warned.client(app, "head").get("/risk").get_data(as_text=True)
    assert html.index("逾期 40 天") < html.index("落后计划 12") < html.index("无现场打卡")


def test_csv_export(app, warned, session):
    client = warned.client(app, "inspector")
    response = client.get("/risk/export.csv?grade=orange")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["等级", "项目代码", "项目名称"]
    assert rows[1:] and all(r[0] == "橙色" for r in rows[1:])
    assert [r[1] for r in rows[1:]] == [NB_PROJECT]
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(AuditRecord).where(AuditRecord.action == "data.export")
        )
        >= 1
    )
    # The operator may see the list but exports nothing (export.data).
    assert warned.client(app, "operator").get("/risk/export.csv").status_code == 403


def test_csv_keeps_formulas_as_text(app, warned, session):
    _warning(session, NB_PROJECT, "step_overdue", "yellow", title="=HYPERLINK(1)")
    session.commit()
    body = warned.client(app, "head").get("/risk/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in body


def test_settings_round_trip(app, warned, session):
    from backend.risk import rules

    client = warned.client(app, "head")
    page = client.get("/risk/settings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for key in rules.DEFAULTS:
        assert f'name="{key}"' in html
    values = {key: format(default, "f") for key, (default, _label) in rules.DEFAULTS.items()}
    # A wrong value and a wrong order: refused with the messages next to the fields, nothing lost.
    bad = {
        **values,
        "no_checkin_days": "abc",
        "progress_lag_points_orange": "50",
        "milestone_overdue_days_red": "45",
    }
    response = client.post("/risk/settings", data=bad)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-error="no_checkin_days">请填写数字' in html
    assert 'data-error="progress_lag_points_orange">须满足 黄色 ≤ 橙色 ≤ 红色' in html
    assert 'value="abc"' in html
    assert 'value="45"' in html  # the valid change is kept on the page, not saved
    assert session.scalar(sa.select(sa.func.count()).select_from(RiskSetting)) == 0
    # A good change is saved and audited.
    response = client.post("/risk/settings", data={**values, "no_checkin_days": "10", "model_red": "0.65"})
    assert response.status_code == 302
    session.expire_all()
    assert rules.settings(session=session)["no_checkin_days"] == 10
    record = session.scalars(
        sa.select(AuditRecord).where(
            AuditRecord.action == "config.change", AuditRecord.object_type == "risk_setting"
        )
    ).one()
    assert record.detail["changed"] == {"no_checkin_days": ["7", "10"], "model_red": ["0.7", "0.65"]}
    html = client.get("/risk/settings").get_data(as_text=True)
    assert 'value="10"' in html and 'value="0.65"' in html
    # The project page's guide lines follow the model's new red level.
    assert "红色 65%" in client.get(f"/projects/{HZ_PROJECT}/risk").get_data(as_text=True)


@pytest.mark.parametrize("who", ("reviewer", "finance", "inspector"))
def test_only_managers_change_settings(app, warned, who):
    client = warned.client(app, who)
    assert client.get("/risk/settings").status_code == 403
    assert client.post("/risk/settings", data={"no_checkin_days": "3"}).status_code == 403
    assert client.post("/risk/model/retrain").status_code == 403
    assert "data-settings-link" not in client.get("/risk").get_data(as_text=True)


def test_model_page_lists_the_versions(app, warned, tmp_path, monkeypatch):
    for version, auc in ((1, 0.81), (2, 0.9)):
        card = {
            "version": version,
            "trained_at": f"2026-10-0{version}T02:00:00+00:00",
            "n_projects": 400,
            "n_late": 120,
            "metrics": {"cv_auc": auc, "cv_brier": 0.12},
            "calibration": [{"bin": "0-0.2", "predicted": 0.1, "observed": 0.09, "n": 80}],
        }
        (tmp_path / f"model-v{version}.json").write_text(json.dumps(card), "utf-8")
        (tmp_path / f"model-v{version}.joblib").write_bytes(b"")
    monkeypatch.setitem(app.config, "RISK_MODEL_DIR", str(tmp_path))
    html = warned.client(app, "reviewer").get("/risk/model").get_data(as_text=True)
    assert html.index('data-model-version="2"') < html.index('data-model-version="1"')
    assert 'data-metric="cv_auc">0.9<' in html and 'data-metric="cv_auc">0.81<' in html
    assert "120 (30.0%)" in html
    assert 'data-table="calibration"' in html
    assert "retrain-form" not in html  # a reviewer may not retrain


def test_model_page_without_models(app, warned, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "RISK_MODEL_DIR", str(tmp_path / "none"))
    html = warned.client(app, "head").get("/risk/model").get_data(as_text=True)
    assert 'id="no-models"' in html


def test_cockpit_panel(app, warned):
    html = warned.client(app, "operator").get("/cockpit/instances").get_data(as_text=True)
    assert 'id="risk-panel"' in html
    counts = dict(re.findall(r'data-panel-count="(\w+)">.*?<span class="fw-semibold">(\d+)<', html, re.S))
    assert counts == {"red": "1", "orange": "1", "yellow": "1"}
    reds = html[html.index("data-panel-reds") :]
    assert f'href="/projects/{HZ_PROJECT}/risk"' in reds  # the red one, linking to its project
    assert f"/projects/{NB_PROJECT}/risk" not in reds  # orange: counted, not listed


def test_empty_pages(app, world):  # noqa: F811
    client = world.client(app, "head")
    assert 'id="no-warnings"' in client.get("/risk").get_data(as_text=True)
    html = client.get(f"/projects/{HZ_PROJECT}/risk").get_data(as_text=True)
    assert 'id="no-live-warnings"' in html and 'id="no-trend"' in html


def test_english(app, warned):
    client = warned.client(app, "head")
    client.get("/lang/en")
    html = client.get("/risk").get_data(as_text=True)
    assert "Risk warnings" in html and "Red" in html


def test_retrain_enqueues_the_job_when_there_is_one(app, warned, session):
    from backend.jobs.models import OutboxJob
    from backend.jobs.registry import _JOBS
    from backend.risk.views import RETRAIN_JOB

    client = warned.client(app, "head")
    response = client.post("/risk/model/retrain")
    assert response.status_code == 302
    queued = session.scalars(sa.select(OutboxJob).where(OutboxJob.actor == RETRAIN_JOB)).all()
    page = client.get("/risk/model").get_data(as_text=True)
    if RETRAIN_JOB in _JOBS:
        assert len(queued) == 1 and 'id="retrain-form"' in page
        assert queued[0].payload == {"by": "head"}
        # A second click within the minute queues nothing more (a click at a minute's edge may).
        client.post("/risk/model/retrain")
        assert session.scalar(sa.select(sa.func.count()).where(OutboxJob.actor == RETRAIN_JOB)) <= 2
        audited = session.scalars(
            sa.select(AuditRecord).where(
                AuditRecord.object_type == "risk_model", AuditRecord.action == "config.change"
            )
        ).all()
        assert len(audited) == len(
            session.scalars(sa.select(OutboxJob).where(OutboxJob.actor == RETRAIN_JOB)).all()
        )
    else:  # no background training job: no button, and the action does nothing but say so
        assert queued == [] and 'id="retrain-form"' not in page
        assert "本系统未提供后台训练任务" in page
