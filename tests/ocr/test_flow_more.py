"""OCR flow robustness (issue 11, session 21): a timeout keeps the pages read, "重新识别" of a
reading whose cause may pass, and the reading's messages in the viewer's language.

The real reader reads a 12-page text PDF; its clock is a fake one that advances one second per
page, so "the limit of 2.5 s stops before page 4" holds on any machine."""

import io
import sys
import types

import pytest
import sqlalchemy as sa
from flask import g
from sqlalchemy.orm import Session

from backend import jobs
from backend.audit.models import AuditRecord
from backend.extensions import db
from backend.jobs.models import OutboxJob
from backend.ocr import jobs as ocr_jobs
from backend.ocr import reader, service
from backend.ocr.models import DocumentExtraction, ExtractionCorrection
from backend.workflow.models import ProcessInstance
from tests.approvals import conftest as approvals_conftest
from tests.projects.factories import PROJECT_CODE
from tests.tasks.test_views import signed_in

from ..files import samples
from . import test_flow as flow_tests
from .test_flow import CORRUPT_MARK, _hidden, _pdf, count, html, the_extraction, upload

# Fixtures: the applicant's organisation and the fake reader (test_flow), the deployed
# approval process and its driver (tests/approvals).
org = flow_tests.org
fake_ocr = flow_tests.fake_ocr
deployed = approvals_conftest.deployed
flow = approvals_conftest.flow

NAME = "杭州市西湖区文三路综合管廊工程"
TIMEOUT_ZH = "文档识别超时 (上限 2.5 秒), 仅读取了 3/12 页"
NOTICE_ZH = "只识别了前 3/12 页，其余页请核对"
FILLER = "本章说明项目建设的必要性、建设条件、技术方案与环境影响评价等内容。" * 3


def twelve_pages() -> bytes:
    """Page 1 the main figures, page 2 the start, page 5 the end; the rest filler text."""
    pages = [f"<p>第 {n} 页</p><p>{FILLER}</p>" for n in range(1, 13)]
    pages[0] = (
        "<h1>项目建议书</h1><table>"
        f"<tr><td>项目名称</td><td>{NAME}</td></tr>"
        f"<tr><td>项目代码</td><td>{PROJECT_CODE}</td></tr>"
        "<tr><td>建设单位</td><td>杭州市城市建设投资集团有限公司</td></tr>"
        "<tr><td>总投资</td><td>12,800万元</td></tr></table>"
        f"<p>{FILLER}</p>"
    )
    pages[1] = f"<p>计划开工时间：2026年3月</p><p>{FILLER}</p>"
    pages[4] = f"<p>计划竣工时间：2028年6月</p><p>{FILLER}</p>"
    return _pdf("".join(f"<div class='next'>{p}</div>" if i else p for i, p in enumerate(pages)))


class FakeClock:
    """The reader's `time`: `per_call` seconds pass at each reading of the clock, and
    `per_page` at each page read."""

    def __init__(self, *, per_page=0.0, per_call=0.0):
        self.now, self.per_page, self.per_call = 1000.0, per_page, per_call

    def perf_counter(self):
        self.now += self.per_call
        return self.now


@pytest.fixture()
def slow_pages(monkeypatch):
    clock = FakeClock(per_page=1.0)
    original = reader._pdf_page

    def page(pdf, index):
        clock.now += clock.per_page
        return original(pdf, index)

    monkeypatch.setattr(reader, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    monkeypatch.setattr(reader, "_pdf_page", page)
    return clock


def form_post(client, row, action, **extra):
    return client.post(
        "/applications/new",
        data={
            "_ocr": action,
            "documents[0][kind]": "proposal",
            "documents[0][sha256]": row.file_sha256,
            "documents[0][name]": "建议书.pdf",
            **extra,
        },
        content_type="multipart/form-data",
    )


def partly_read(app, session, client):
    """Upload the 12 pages (the caller sets a limit of 2.5 s on the fake clock): 3 pages read."""
    upload(client, twelve_pages(), name="建议书.pdf")
    assert jobs.drain() == 1
    return the_extraction(session)


# --- 1. a timeout keeps what was read ----------------------------------------------------------


def test_a_timeout_keeps_the_pages_read_as_a_done_extraction_with_a_notice(
    app, session, org, slow_pages, monkeypatch
):
    monkeypatch.setitem(app.config, "OCR_TIME_LIMIT_SECONDS", 2.5)
    client = signed_in(app, "applicant")
    row = partly_read(app, session, client)
    assert (row.state, row.error_code, row.error) == ("done", "timeout", TIMEOUT_ZH)
    assert row.error_values == {"limit": "2.5", "done": 3, "total": 12}
    assert (row.pages_done, row.pages_total, row.method) == (3, 12, "text")
    # Found in pages 1-3; the end date is on page 5, never read.
    assert row.result["project_code"]["value"] == PROJECT_CODE
    assert row.result["total_investment_yuan"]["value"] == "128000000.00"
    assert row.result["planned_start"]["value"] == "2026-03"
    assert "planned_end" not in row.result

    status = client.get(f"/ocr/extractions/{row.id}").get_json()
    assert (status["state"], status["error_code"], status["error"]) == ("done", "timeout", TIMEOUT_ZH)
    assert (status["notice"], status["retryable"], status["pages_done"], status["pages_total"]) == (
        NOTICE_ZH,
        True,
        3,
        12,
    )
    assert "project_code" in status["found"] and "planned_end" not in status["found"]

    page = html(form_post(client, row, "upload"))
    assert "识别完成，找到" in page and NOTICE_ZH in page
    assert f'data-ocr-retry="/ocr/extractions/{row.id}/retry"' in page and 'data-retryable="true"' in page

    # Fill works with the fields of the pages read.
    filled = html(form_post(client, row, "fill"))
    assert f'value="{PROJECT_CODE}"' in filled and 'value="128000000.00"' in filled
    assert 'value="2026-03-01"' in filled and 'value="2028-06-30"' not in filled
    assert service.parse_prefilled(_hidden(filled, "_ocr_prefilled"))["planned_start"] == row.id


def test_a_timeout_before_any_page_still_fails(app, session, org, monkeypatch):
    # Every reading of the clock takes a second: the limit of 0.5 s is over before page 1.
    monkeypatch.setattr(
        reader, "time", types.SimpleNamespace(perf_counter=FakeClock(per_call=1.0).perf_counter)
    )
    monkeypatch.setitem(app.config, "OCR_TIME_LIMIT_SECONDS", 0.5)
    client = signed_in(app, "applicant")
    upload(client, twelve_pages(), name="建议书.pdf")
    jobs.drain()
    row = the_extraction(session)
    assert (row.state, row.error_code, row.result) == ("failed", "timeout", None)
    assert row.error == "文档识别超时 (上限 0.5 秒), 仅读取了 0/12 页"
    status = client.get(f"/ocr/extractions/{row.id}").get_json()
    assert (status["notice"], status["retryable"], status["found"]) == (None, True, [])


# --- 2. retry ----------------------------------------------------------------------------------


def test_retry_reads_again_under_a_new_key_once_and_is_audited(app, session, org, slow_pages, monkeypatch):
    monkeypatch.setitem(app.config, "OCR_TIME_LIMIT_SECONDS", 2.5)
    client = signed_in(app, "applicant")
    row = partly_read(app, session, client)
    monkeypatch.setitem(app.config, "OCR_TIME_LIMIT_SECONDS", 100)  # now the 12 pages fit

    response = client.post(f"/ocr/extractions/{row.id}/retry")
    assert response.status_code == 202, html(response)
    body = response.get_json()
    assert (body["state"], body["attempts"], body["error"], body["notice"], body["found"]) == (
        "queued",
        2,
        None,
        None,
        [],
    )
    row = the_extraction(session)
    assert (row.state, row.attempts, row.pages_done, row.pages_total) == ("queued", 2, 0, None)
    assert (row.result, row.error_code, row.error, row.error_values) == (None, None, None, None)
    keys = session.scalars(sa.select(OutboxJob.idempotency_key).order_by(OutboxJob.id)).all()
    assert keys == [f"ocr.extract:{row.file_sha256}", f"ocr.extract:{row.file_sha256}:2"]

    # A second click before the reading: refused, no third job.
    again = client.post(f"/ocr/extractions/{row.id}/retry")
    assert again.status_code == 409
    assert again.get_json()["message"] == "该文件正在识别中，无需重新识别"
    assert count(session, OutboxJob) == 2

    assert jobs.drain() == 1
    row = the_extraction(session)
    assert (row.state, row.error_code, row.error, row.pages_done, row.pages_total) == (
        "done",
        None,
        None,
        12,
        12,
    )
    assert row.result["planned_end"]["value"] == "2028-06"
    status = client.get(f"/ocr/extractions/{row.id}").get_json()
    assert (status["notice"], status["retryable"]) == (None, False)
    # Read in full: nothing a new reading could change.
    refused = client.post(f"/ocr/extractions/{row.id}/retry")
    assert refused.status_code == 409
    assert refused.get_json()["message"] == "重新识别不会改变该文件的识别结果，请手工填写"

    audit = session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "ocr.retry")).all()
    assert [(a.username, a.object_type, a.object_id, a.result) for a in audit] == [
        ("applicant", "document_extraction", str(row.id), "success")
    ]
    assert audit[0].detail == {"file": "建议书.pdf", "attempt": 2, "error_code": "timeout"}


def test_an_old_message_of_the_first_attempt_does_nothing(app, session, org, fake_ocr):
    client = signed_in(app, "applicant")
    upload(client, samples.pdf("retry me"))
    row = the_extraction(session)
    row.state, row.error_code, row.error = "failed", "internal", service.INTERNAL_ERROR
    session.commit()
    assert client.post(f"/ocr/extractions/{row.id}/retry").status_code == 202
    # The first attempt's job, delivered late: skipped, the reading is the second attempt's.
    first = session.scalars(sa.select(OutboxJob).order_by(OutboxJob.id)).first()
    assert first.payload == {"extraction_id": row.id}
    assert ocr_jobs._plan(first.payload) is None
    assert jobs.drain() == 2  # both messages run; the first one finds the attempt changed
    assert len(fake_ocr.calls) == 1
    row = the_extraction(session)
    assert (row.state, row.attempts) == ("done", 2)


def test_two_clicks_at_once_queue_one_job(app, session, org, fake_ocr):
    client = signed_in(app, "applicant")
    upload(client, samples.pdf("two clicks"))
    row = the_extraction(session)
    row.state, row.error_code, row.error = "failed", "missing", service.MISSING_ERROR
    row_id = row.id
    session.commit()
    # The second request read the row (failed, attempt 1) before the first one committed.
    with Session(db.engine, expire_on_commit=False) as other:
        stale = other.get(DocumentExtraction, row_id)
        other.commit()
        assert client.post(f"/ocr/extractions/{row_id}/retry").status_code == 202
        session.rollback()  # the test's shared session: end its transaction as a request would
        with app.test_request_context(), pytest.raises(service.NotRetryable):
            service.retry_extraction(session=other, row=stale)
        other.rollback()
    assert count(session, OutboxJob) == 2
    assert the_extraction(session).attempts == 2


def test_no_retry_where_it_cannot_help_or_for_who_may_not_read(app, session, org, fake_ocr):
    client = signed_in(app, "applicant")
    upload(client, samples.pdf(CORRUPT_MARK), name="坏文件.pdf")
    jobs.drain()
    row = the_extraction(session)
    assert (row.state, row.error_code) == ("failed", "corrupt")
    response = client.post(f"/ocr/extractions/{row.id}/retry")
    assert response.status_code == 409
    assert response.get_json()["message"] == "重新识别不会改变该文件的识别结果，请手工填写"
    assert client.get(f"/ocr/extractions/{row.id}").get_json()["retryable"] is False
    assert 'data-retryable="false"' in html(form_post(client, row, "upload"))
    # Not readable reads as not found; nothing changed.
    assert signed_in(app, "outsider").post(f"/ocr/extractions/{row.id}/retry").status_code == 404
    assert client.post(f"/ocr/extractions/{row.id + 1}/retry").status_code == 404
    assert (the_extraction(session).state, count(session, OutboxJob)) == ("failed", 1)
    assert session.scalar(sa.select(sa.func.count()).where(AuditRecord.action == "ocr.retry")) == 0


# --- 3. the messages in the viewer's language --------------------------------------------------


def english_json(client, url):
    g.pop("_flask_babel", None)  # the locale cached on the shared app context
    return client.get(url, headers={"Accept-Language": "en"}).get_json()


def test_status_speaks_english_with_the_numbers_filled_in(app, session, org, slow_pages, monkeypatch):
    monkeypatch.setitem(app.config, "OCR_TIME_LIMIT_SECONDS", 2.5)
    client = signed_in(app, "applicant")
    row = partly_read(app, session, client)
    status = english_json(client, f"/ocr/extractions/{row.id}")
    assert status["error"] == "Reading the document timed out (limit 2.5 seconds): only 3/12 pages were read"
    assert status["notice"] == "Only the first 3/12 pages were read; please check the other pages yourself"
    assert row.error == TIMEOUT_ZH  # stored in Chinese, for the logs and the Chinese page
    g.pop("_flask_babel", None)
    assert client.get(f"/ocr/extractions/{row.id}").get_json()["error"] == TIMEOUT_ZH


def test_english_message_of_a_real_page_limit_and_of_an_older_wording(app, session, org, monkeypatch):
    monkeypatch.setitem(app.config, "OCR_MAX_PAGES", 1)
    client = signed_in(app, "applicant")
    upload(client, _pdf("<p>第一页</p><p class='next'>第二页</p>"), name="两页.pdf")
    jobs.drain()
    row = the_extraction(session)
    assert row.error_values == {"pages": 2, "limit": 1}
    assert english_json(client, f"/ocr/extractions/{row.id}")["error"] == (
        "The document has 2 pages, more than the 1 pages that can be read automatically; "
        "please upload only the part needed for the application"
    )
    # A row stored before the values were kept (or under another wording): shown as stored.
    row.error_values = None
    session.commit()
    assert english_json(client, f"/ocr/extractions/{row.id}")["error"] == row.error


def test_the_jobs_own_messages_are_translated_too(app):
    row = DocumentExtraction(state="failed", error_code="missing", error="文件已不在存储中, 无法识别")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        g.pop("_flask_babel", None)
        assert service.error_message(row) == "The file is no longer in storage and cannot be read"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        g.pop("_flask_babel", None)
        assert service.error_message(row) == "文件已不在存储中, 无法识别"
    # The error itself stays Chinese (logs).
    assert (
        str(reader.DocumentError("timeout", limit="1", done=0, total=2))
        == "文档识别超时 (上限 1 秒), 仅读取了 0/2 页"
    )


# --- 4. the 补正/修改 form --------------------------------------------------------------------


@pytest.fixture()
def many_files_ocr(fake_ocr, monkeypatch):
    """The fake reader, without its progress check that assumes a single extraction."""

    def read_document(data, *, filename, max_pages=50, time_limit=120.0, progress=None):
        fake_ocr.calls.append((filename, max_pages, time_limit))
        progress(1, 1)
        return flow_tests.Document([flow_tests.Page(1, "…", "text", 0.01)], 0.01)

    monkeypatch.setattr(sys.modules["backend.ocr.reader"], "read_document", read_document)
    return fake_ocr


def test_the_supplement_form_reads_the_files_added_since_and_keeps_corrections(
    app, session, org, many_files_ocr, flow
):
    from tests.approvals.test_resubmission import REASONS, kept, open_task, resubmission, sha
    from tests.approvals.test_views import form_fields

    multipart = "multipart/form-data"
    applicant = signed_in(app, "applicant")
    response = applicant.post("/applications/new", data=form_fields(org), content_type=multipart)
    assert response.status_code == 302, html(response)
    assert jobs.drain() == 3  # the three documents as submitted were read then
    flow.instance_id = session.scalar(sa.select(ProcessInstance.id).filter_by(business_key=PROJECT_CODE))
    flow.complete("intake", {"accepted": False, "return_reasons": REASONS, "opinion": "请补正"}, "fgw_window")
    task = open_task(session, "supplement")

    page = html(applicant.get(f"/tasks/{task.id}"))
    # The files as submitted are not offered: their values are the form's already.
    assert "data-ocr-extraction" not in panel_of(page)
    assert 'src="/static/ocr.js"' in page and 'id="ocr-upload"' in page

    new = samples.pdf("feasibility v2 with the estimate")
    emptied = {"scale_content": "", "total_investment": ""}
    data = resubmission(
        org,
        documents=[
            kept("proposal"),
            ("feasibility", "", "", (io.BytesIO(new), "可研v2.pdf")),
            kept("preliminary_design"),
        ],
    )
    uploaded = applicant.post(
        f"/tasks/{task.id}", data={**data, **emptied, "_ocr": "upload"}, content_type=multipart
    )
    panel = panel_of(html(uploaded))
    assert uploaded.status_code == 200
    assert panel.count("data-ocr-extraction=") == 1 and "可研v2.pdf" in panel and "排队等待识别" in panel
    row = session.scalar(sa.select(DocumentExtraction).where(DocumentExtraction.file_sha256 == sha(new)))
    assert (row.state, row.kind) == ("queued", "feasibility")
    assert jobs.drain() == 1

    documents = [kept("proposal"), ("feasibility", sha(new), "可研v2.pdf", None), kept("preliminary_design")]
    filled = html(
        applicant.post(
            f"/tasks/{task.id}",
            data={**resubmission(org, documents=documents), **emptied, "_ocr": "fill"},
            content_type=multipart,
        )
    )
    # Only the emptied fields: the rest keep the application as submitted.
    assert "已用文件中的信息填写 2 项，请逐项核对" in filled
    assert 'value="128000000.00"' in filled and "新建综合管廊 3.2 公里" in filled
    prefilled = _hidden(filled, "_ocr_prefilled")
    assert service.parse_prefilled(prefilled) == {"scale_content": row.id, "total_investment": row.id}

    final = {**resubmission(org, documents=documents), "_ocr_prefilled": prefilled}
    final["scale_content"] = "新建综合管廊 3.5 公里"
    response = applicant.post(f"/tasks/{task.id}", data=final, content_type=multipart)
    assert response.status_code == 302, html(response)
    session.expire_all()
    corrections = {c.field: c for c in session.scalars(sa.select(ExtractionCorrection))}
    assert sorted(corrections) == ["scale_content", "total_investment"]
    assert (corrections["scale_content"].accepted, corrections["total_investment"].accepted) == (False, True)
    assert {(c.extraction_id, c.project_code) for c in corrections.values()} == {(row.id, PROJECT_CODE)}
    assert open_task(session, "intake") is not None  # resubmitted


def panel_of(page: str) -> str:
    return page.split('id="ocr-panel"')[1].split("</section>")[0]
