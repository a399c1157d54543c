"""Quarterly and annual performance reports (backend/kpi/reports.py): generated through the job
on hand-made records, the PDF's extracted text and the XLSX's cells checked against figures
worked out here; a duplicate request joins the queued one; a failure archives nothing; the
evidence record holds the PDF's hash; the period-end schedule; the pages and the data scope.

Records (period 2026Q3, 1 July – 30 September 2026, Beijing):
- 西湖区 (杭州): project A, 2026 budget 1,000.00; investment reports 2026-06 100.00, 2026-07
  300.00, 2026-08 200.00 → Q3 year-to-date 600.00 / 1,000.00 = 60.0 %.
- 海曙区 (宁波): project B, 2026 budget 500.00; report 2026-09 100.00 → 100.00 / 500.00 = 20.0 %.
- 浙江省: 700.00 / 1,500.00 = 46.666… → 46.7 %.
- warnings raised in Q3: A red (5 Aug), B red (10 Sep), B orange (20 Jul); a red on 2 Oct is
  outside → 红色 2个, 橙色 1个.
- approvals decided in Q3 (limits set): fgw on time (3 working days), fgw overdue (8), cz on
  time (2) → 2 / 3 = 66.7 %; fgw 1 / 2 = 50.0 %, mean (3 + 8) / 2 = 5.5天; cz 100.0 %, 2.0天.
"""

import hashlib
import io
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import quote

import pypdfium2
import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook
from sqlalchemy.exc import IntegrityError

from backend import jobs
from backend.approvals.models import ApprovalOpinion
from backend.audit.models import AuditRecord
from backend.contracts.models import BudgetLine
from backend.evidence.models import EvidenceRecord
from backend.files.models import StoredFile
from backend.files.service import open_file
from backend.funds.models import InvestmentReport
from backend.jobs.models import OutboxJob
from backend.kpi import reports
from backend.kpi.models import KpiReport
from backend.ledger import verify
from backend.risk.models import RiskWarning
from tests.authz.conftest import _person, world  # noqa: F401  (fixture)
from tests.kpi.conftest import bj

# Beijing 10 October 2026, 10:00: Q3 is over.
GENERATED = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)


@pytest.fixture()
def records(session):
    """The module docstring's records on the KPI world's regions (浙江 > 杭州 > 西湖区; 宁波 > 海曙区)."""
    from backend.org.models import Department, Region, Unit
    from tests.kpi.conftest import REGIONS, World

    for code, name, level, parent in REGIONS:
        session.add(Region(code=code, name=name, level=level, parent_code=parent))
    session.flush()
    session.add_all(
        [
            Department(code="fgw", name="省发展和改革委员会", short_name="发改", region_code="330000"),
            Department(code="cz", name="省财政厅", short_name="财政", region_code="330000"),
        ]
    )
    unit = Unit(name="测试建设单位", kind="owner")
    session.add(unit)
    session.flush()
    w = World(session=session, unit=unit)
    a = w.project("330106", name="西湖大道改造", total_investment="2000.00")
    b = w.project("330203", name="海曙污水管网", total_investment="800.00")
    session.add_all(
        [
            BudgetLine(project_id=a.id, year=2026, source="中央预算内资金", amount=Decimal("1000.00")),
            BudgetLine(project_id=b.id, year=2026, source="企业自筹", amount=Decimal("500.00")),
        ]
    )
    for project, month, amount in ((a, 6, "100.00"), (a, 7, "300.00"), (a, 8, "200.00"), (b, 9, "100.00")):
        session.add(
            InvestmentReport(
                project_id=project.id,
                year=2026,
                month=month,
                version=1,
                amount=Decimal(amount),
                reported_by="owner",
            )
        )
    for n, (project, grade, raised) in enumerate(
        (
            (a, "red", bj(2026, 8, 5, 9, 0)),
            (b, "red", bj(2026, 9, 10, 9, 0)),
            (b, "orange", bj(2026, 7, 20, 9, 0)),
            (a, "red", bj(2026, 10, 2, 9, 0)),
        )
    ):
        session.add(
            RiskWarning(
                project_id=project.id,
                cause=f"c{n}",
                source="rule",
                grade=grade,
                status="open",
                title="预警",
                raised_at=raised,
            )
        )
    for department, decided, overdue, used in (
        ("fgw", bj(2026, 7, 10, 10, 0), False, 3),
        ("fgw", bj(2026, 8, 10, 10, 0), True, 8),
        ("cz", bj(2026, 9, 10, 10, 0), False, 2),
    ):
        session.add(
            ApprovalOpinion(
                project_id=a.id,
                step=f"review_{department}",
                department=department,
                decision="approved",
                decided_at=decided,
                due_at=bj(2026, 1, 1, 0, 0),
                working_days_used=used,
                overdue=overdue,
            )
        )
    session.commit()
    return w


def _generate(session, region="330000", period="2026Q3", by="leader") -> KpiReport:
    with time_machine.travel(GENERATED, tick=True):
        report, created = reports.request_report(
            session=session, region_code=region, period_key=period, requested_by=by
        )
        assert created
        session.commit()
        jobs.drain()
    session.expire_all()
    return session.get(KpiReport, report.id)


def _stored(sha256: str) -> bytes:
    with open_file(sha256=sha256) as f:
        return f.read()


def _pdf_text(data: bytes) -> str:
    pdf = pypdfium2.PdfDocument(data)
    return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))


def _squeeze(text: str) -> str:
    """Extracted table cells may wrap a long name over lines: compare without whitespace."""
    return "".join(text.split())


def test_a_province_report_has_the_figures_worked_out_by_hand(session, records):
    report = _generate(session)
    assert report.status == "done", report.error
    assert report.title == "浙江省 2026年第三季度 重点项目绩效报告"
    assert report.trigger == "manual" and report.requested_by == "leader"
    assert report.started_at is not None and report.finished_at >= report.started_at
    assert report.seconds is not None and report.seconds > 0

    pdf = _stored(report.pdf_sha256)
    assert pdf.startswith(b"%PDF-")
    text = _pdf_text(pdf)
    flat = _squeeze(text)
    assert "浙江省2026年第三季度重点项目绩效报告" in flat
    assert "生成时间：2026年10月10日10:0" in flat  # Beijing, the job ran at 10:00 (+ seconds)
    assert "统计期间：2026年07月01日至2026年09月30日" in flat
    # 年度投资完成率 of the province: 700.00 / 1,500.00, its parts in yuan
    assert "年度投资完成率46.7%700.001,500.00" in flat
    # the children's table: 杭州市 60.0 %, 宁波市 20.0 % (one project each)
    assert "杭州市市160.0%" in flat and "宁波市市120.0%" in flat
    # warnings: red 2, orange 1
    assert "红色预警2个，橙色预警1个" in flat
    # approval departments: fgw 1 of 2 on time, 5.5 days; cz 1 of 1, 2.0 days
    assert "省发展和改革委员会50.0%1/25.5天2" in flat
    assert "省财政厅100.0%1/12.0天1" in flat
    assert "第1页/共" in flat  # page numbers in the footer
    # the default scheme: A's indicators with a value carry 40 of its 100 weight, B's 30: not scored
    assert "七、绩效评价排名评价方案：内置默认方案；共0个项目计分。该期间没有计分的项目。" in flat
    assert "<svg" not in text  # the charts are drawn, not printed as text

    book = load_workbook(io.BytesIO(_stored(report.xlsx_sha256)))
    assert book.sheetnames == ["指标", "下级地区", "月度趋势", "行业", "审批部门", "绩效排名"]
    sheet = book["指标"]
    assert [c.value for c in sheet[1]] == ["指标", "数值", "分子", "分母", "单位", "计算公式"]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "年度投资完成率")
    assert (
        row[1].value == pytest.approx(46.6667) and row[1].data_type == "n" and row[1].number_format == "0.0"
    )
    assert (row[2].value, row[3].value) == (700, 1500) and row[2].number_format == "#,##0.00"
    assert row[4].value == "%"
    red = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "红色预警")
    assert red[1].value == 2 and red[1].data_type == "n"
    children = {r[1].value: r for r in book["下级地区"].iter_rows(min_row=2)}
    assert set(children) == {"杭州市", "宁波市"}
    assert children["杭州市"][3].value == 1 and children["杭州市"][4].value == 60
    assert children["宁波市"][4].value == 20
    # monthly: the year to date at each month's end over 1,500.00: July 400, August 600, September 700
    trend = [(r[0].value, r[1].value) for r in book["月度趋势"].iter_rows(min_row=2)]
    assert [m for m, _ in trend] == ["2026-07", "2026-08", "2026-09"]
    assert [round(v, 1) for _, v in trend] == [26.7, 40.0, 46.7]
    departments = {r[0].value: [c.value for c in r[1:]] for r in book["审批部门"].iter_rows(min_row=2)}
    assert departments["省发展和改革委员会"] == [50, 1, 2, 5.5, 2]
    assert departments["省财政厅"] == [100, 1, 1, 2, 1]
    industries = [r[0].value for r in book["行业"].iter_rows(min_row=2)]
    assert industries == ["交通"]


def test_the_evidence_ledger_holds_both_files_hashes(session, records):
    report = _generate(session)
    pdf, xlsx = _stored(report.pdf_sha256), _stored(report.xlsx_sha256)
    assert hashlib.sha256(pdf).hexdigest() == report.pdf_sha256
    deposited = session.get(EvidenceRecord, report.pdf_evidence_id)
    assert deposited.sha256 == report.pdf_sha256 == deposited.file_sha256
    assert deposited.project_id is None and deposited.region_code == "330000"
    assert deposited.source == "kpi.report" and deposited.source_ref == "330000:2026Q3"
    assert deposited.title == "浙江省 2026年第三季度 重点项目绩效报告（PDF）"
    assert session.get(EvidenceRecord, report.xlsx_evidence_id).sha256 == hashlib.sha256(xlsx).hexdigest()
    assert verify(session=session, ledger="evidence").ok


def test_a_duplicate_request_returns_the_queued_report(session, records):
    first, created = reports.request_report(
        session=session, region_code="330000", period_key="2026Q3", requested_by="a"
    )
    again, created_again = reports.request_report(
        session=session, region_code="330000", period_key="2026q3", requested_by="b"
    )
    assert created and not created_again and again.id == first.id
    other, created_other = reports.request_report(
        session=session, region_code="330000", period_key="2026", requested_by="b"
    )
    assert created_other and other.id != first.id
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 2
    # once done, a new request makes a new report
    first.status = "done"
    session.flush()
    third, created_third = reports.request_report(
        session=session, region_code="330000", period_key="2026Q3", requested_by="a"
    )
    assert created_third and third.id not in (first.id, other.id)


def test_two_requests_at_the_same_instant_queue_one_report(session, records, monkeypatch):
    """The database refuses a second open report of a region and period (uq_kpi_report_open);
    a request whose check ran before the other's insert joins the winner."""
    first, _ = reports.request_report(
        session=session, region_code="330000", period_key="2026Q3", requested_by="a"
    )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(KpiReport(region_code="330000", period_key="2026Q3", status="running", trigger="manual"))
        session.flush()
    # The second request's check "sees nothing" (it ran before the first committed): its insert
    # hits the index and it returns the first report, with no second job.
    real_scalar = session.scalar
    calls = {"n": 0}

    def stale_check(statement, *args, **kwargs):
        calls["n"] += 1
        return None if calls["n"] == 1 else real_scalar(statement, *args, **kwargs)

    monkeypatch.setattr(session, "scalar", stale_check)
    again, created = reports.request_report(
        session=session, region_code="330000", period_key="2026Q3", requested_by="b"
    )
    monkeypatch.undo()
    assert not created and again.id == first.id
    assert session.scalar(sa.select(sa.func.count()).select_from(KpiReport)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxJob)) == 1
    # A done report does not block a new one.
    first.status = "done"
    session.flush()
    assert reports.request_report(
        session=session, region_code="330000", period_key="2026Q3", requested_by="a"
    )[1]


@pytest.mark.parametrize("period", ["2026-07", "Q3", ""])
def test_only_a_year_or_a_quarter(session, records, period):
    if period == "":  # empty: the current year, accepted
        report, _ = reports.request_report(
            session=session, region_code="330000", period_key="", requested_by="a"
        )
        assert len(report.period_key) == 4
        return
    with pytest.raises(reports.service.KpiInputError):
        reports.request_report(session=session, region_code="330000", period_key=period, requested_by="a")


def test_an_unknown_region_fails_in_chinese_and_archives_nothing(session, records):
    report = _generate(session, region="999999")
    assert report.status == "failed"
    assert report.error == "生成失败：没有这个行政区划: 999999"
    assert report.pdf_sha256 is None and report.xlsx_sha256 is None and report.pdf_evidence_id is None
    assert session.scalar(sa.select(sa.func.count()).select_from(StoredFile)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceRecord)) == 0
    assert session.scalar(sa.select(OutboxJob.state)) == "done"  # the job handled its failure


def test_a_failed_deposit_leaves_nothing_half_archived(session, records, monkeypatch):
    from backend.evidence import service as evidence

    real = evidence.deposit

    def second_fails(**kwargs):
        if kwargs["title"].endswith("（XLSX）"):
            raise evidence.EvidenceError("存证服务不可用")
        return real(**kwargs)

    monkeypatch.setattr(evidence, "deposit", second_fails)
    report = _generate(session)
    assert report.status == "failed" and report.error == "归档失败：存证服务不可用"
    assert report.pdf_sha256 is None and report.pdf_evidence_id is None
    # the PDF's file row and its deposit rolled back with the XLSX's failure
    assert session.scalar(sa.select(sa.func.count()).select_from(StoredFile)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceRecord)) == 0
    assert verify(session=session, ledger="evidence").ok


def test_period_end_requests_the_top_regions_report_once(session, records):
    reports._scheduled.clear()
    assert reports.schedule_period_end(session=session, now=bj(2026, 9, 30, 23, 0)) == []
    made = reports.schedule_period_end(session=session, now=bj(2026, 10, 1, 2, 0))
    assert [(r.region_code, r.period_key, r.trigger, r.requested_by) for r in made] == [
        ("330000", "2026Q3", "scheduled", None)
    ]
    assert reports.schedule_period_end(session=session, now=bj(2026, 10, 1, 2, 1)) == []
    reports._scheduled.clear()  # another process (or a restart): the row stops it
    made[0].status = "failed"
    session.flush()
    assert reports.schedule_period_end(session=session, now=bj(2026, 10, 3, 2, 0)) == []
    assert reports.schedule_period_end(session=session, now=bj(2026, 10, 8, 2, 0)) == []  # too late
    made = reports.schedule_period_end(session=session, now=bj(2027, 1, 2, 8, 0))
    assert sorted(r.period_key for r in made) == ["2026", "2026Q4"]
    reports._scheduled.clear()


def test_period_titles():
    parse = reports.service.parse_period
    today = datetime(2026, 11, 1).date()
    assert reports.period_title(parse("2026Q1", today=today)) == "2026年第一季度"
    assert reports.period_title(parse("2026Q4", today=today)) == "2026年第四季度"
    assert reports.period_title(parse("2025", today=today)) == "2025年度"


# --- pages and the data scope (the authz world: 浙江 > 杭州 > 西湖区, 宁波) ------------------------


@pytest.fixture()
def leaders(world, session):  # noqa: F811
    world.people["hz_leader"] = _person(session, "hz_leader", ["leader"], region="330100")
    world.people["xh_leader"] = _person(session, "xh_leader", ["leader"], region="330106")
    session.commit()
    return world


def test_pages_request_list_and_download_within_the_scope(app, session, leaders):
    province = leaders.client(app, "leader")
    county = leaders.client(app, "xh_leader")
    html = province.get("/leader/").get_data(as_text=True)
    assert 'href="/leader/reports"' in html and "data-reports-link" in html

    response = province.post("/leader/reports", data={"region": "330000", "period": "2026Q3"})
    assert response.status_code == 302
    response = county.post("/leader/reports", data={"region": "330106", "period": "2026Q3"})
    assert response.status_code == 302
    # the county leader may not ask for the province
    response = county.post(
        "/leader/reports", data={"region": "330000", "period": "2026Q3"}, follow_redirects=True
    )
    assert "所选行政区划不在您的数据范围内" in response.get_data(as_text=True)
    rows = session.execute(
        sa.select(KpiReport.region_code, KpiReport.requested_by).order_by(KpiReport.id)
    ).all()
    assert rows == [("330000", "leader"), ("330106", "xh_leader")]
    page = province.get("/leader/reports").get_data(as_text=True)
    assert page.count("data-report=") == 2 and 'data-status="queued"' in page

    jobs.drain()
    session.expire_all()
    prov, xh = session.scalars(sa.select(KpiReport).order_by(KpiReport.id)).all()
    assert prov.status == xh.status == "done", (prov.error, xh.error)

    page = province.get("/leader/reports").get_data(as_text=True)
    assert f'data-report="{prov.id}"' in page and f'data-report="{xh.id}"' in page
    assert f"/leader/reports/{prov.id}/pdf" in page and f"/leader/reports/{prov.id}/xlsx" in page
    page = county.get("/leader/reports").get_data(as_text=True)
    assert f'data-report="{xh.id}"' in page and f'data-report="{prov.id}"' not in page
    page = leaders.client(app, "hz_leader").get("/leader/reports").get_data(as_text=True)
    assert f'data-report="{xh.id}"' in page and f'data-report="{prov.id}"' not in page

    response = province.get(f"/leader/reports/{prov.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data() == _stored(prov.pdf_sha256)
    name = quote("浙江省 2026年第三季度 重点项目绩效报告.pdf", safe="!#$&+.^_`|~-")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith(
        f"filename*=UTF-8''{name}"
    )
    response = province.get(f"/leader/reports/{prov.id}/xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert response.headers["Content-Disposition"].endswith(".xlsx")

    # outside the scope: 404, as if it did not exist
    assert county.get(f"/leader/reports/{prov.id}/pdf").status_code == 404
    assert county.get(f"/leader/reports/{prov.id}/xlsx").status_code == 404
    assert county.get(f"/leader/reports/{xh.id}/pdf").status_code == 200
    assert province.get(f"/leader/reports/{xh.id}/doc").status_code == 404
    assert province.get("/leader/reports/999999/pdf").status_code == 404
    # The report's evidence record: a region's, seen by who sees the whole region (the world's
    # reviewer is at the province; 杭州's reviewer is not), and found by verifying the file.
    reviewer, hz_reviewer = leaders.client(app, "reviewer"), leaders.client(app, "hz_reviewer")
    page = reviewer.get(f"/evidence/{prov.pdf_evidence_id}")
    assert page.status_code == 200 and "data-record-region" in page.get_data(as_text=True)
    assert "浙江省 (330000)" in page.get_data(as_text=True)
    assert hz_reviewer.get(f"/evidence/{prov.pdf_evidence_id}").status_code == 404
    assert reviewer.get(f"/evidence/{prov.pdf_evidence_id}/proof.json").status_code == 200
    verified = reviewer.post(
        "/evidence/verify", data={"document": (io.BytesIO(_stored(prov.pdf_sha256)), "report.pdf")}
    ).get_data(as_text=True)
    assert 'data-verify-result="deposited"' in verified and f"/evidence/{prov.pdf_evidence_id}" in verified
    # Requests and downloads are in the audit log; refused downloads leave no download record.
    audited = session.execute(
        sa.select(AuditRecord.action, AuditRecord.username, AuditRecord.object_id)
        .where(AuditRecord.action.like("kpi.report_%"))
        .order_by(AuditRecord.id)
    ).all()
    assert audited == [
        ("kpi.report_request", "leader", str(prov.id)),
        ("kpi.report_request", "xh_leader", str(xh.id)),
        ("kpi.report_download", "leader", str(prov.id)),
        ("kpi.report_download", "leader", str(prov.id)),
        ("kpi.report_download", "xh_leader", str(xh.id)),
    ]


def test_people_without_kpi_view_are_refused(app, leaders):
    client = leaders.client(app, "owner")
    assert client.get("/leader/reports").status_code == 403
    assert client.post("/leader/reports", data={"region": "330000", "period": "2026Q3"}).status_code == 403


def test_the_ranking_follows_the_scheme_in_force_at_the_period_end(session, records):
    from backend.kpi import evaluation

    with time_machine.travel(bj(2026, 6, 1, 9, 0)):
        evaluation.save_scheme(
            session=session,
            name="只看年度投资",
            items={"investment_year": {"weight": "1", "full": "100", "zero": "0"}},
            by="head",
        )
        session.commit()
    report = _generate(session)
    flat = _squeeze(_pdf_text(_stored(report.pdf_sha256)))
    # A: 60.0 % → 60.00 points; B: 20.0 % → 20.00
    assert "评价方案：只看年度投资；共2个项目计分。" in flat
    assert "前列排名项目代码项目名称得分" in flat
    assert "西湖大道改造60.00" in flat and "海曙污水管网20.00" in flat
    assert flat.index("西湖大道改造60.00") < flat.index("海曙污水管网20.00")
    ranking = [
        [c.value for c in r]
        for r in load_workbook(io.BytesIO(_stored(report.xlsx_sha256)))["绩效排名"].iter_rows(min_row=2)
    ]
    assert [(r[0], r[2], r[3]) for r in ranking] == [(1, "西湖大道改造", 60), (2, "海曙污水管网", 20)]


def test_a_region_document_is_deposited_without_a_project(session, records):
    """The evidence ledger's change for reports: project=None with a region code."""
    from backend.evidence import service as evidence

    data = "浙江省报告".encode()
    record, created = evidence.deposit(
        session=session,
        project=None,
        region_code="330000",
        document_type="other",
        data=data,
        title="报告",
        depositor="x",
    )
    again, created_again = evidence.deposit(
        session=session,
        project=None,
        region_code="330000",
        document_type="other",
        data=data,
        title="报告",
        depositor="x",
    )
    assert created and not created_again and again.id == record.id
    leaf = evidence.leaf_data(record).decode()
    assert '"project":null' in leaf and '"region":"330000"' in leaf
    bundle = evidence.proof_bundle(session=session, record=record)
    assert bundle["evidence"]["region_code"] == "330000" and bundle["evidence"]["project_code"] is None
    assert verify(session=session, ledger="evidence").ok
    for owner in ({"project": None}, {"project": records.project("330106"), "region_code": "330106"}):
        with pytest.raises(evidence.EvidenceError):
            evidence.deposit(
                session=session, document_type="other", data=b"x", title="t", depositor=None, **owner
            )
