"""OCR in the application flow (issue 11): the ocr.extract job with its progress, failures
that keep the upload, one reading per file, who may see an extraction, the prefill of the
application form and the corrections stored on submit.

The reading itself (backend/ocr/reader.py, fields.py) is replaced by a fake in most tests,
so these test the flow; `test_real_text_pdf_end_to_end` runs the real reader on a PDF made
with WeasyPrint."""

import io
import sys
import types
from dataclasses import dataclass
from decimal import Decimal

import pytest
import sqlalchemy as sa
import weasyprint

import backend.ocr
from backend import jobs
from backend.accounts.service import set_password
from backend.extensions import db
from backend.files.models import StoredFile
from backend.files.service import path_of
from backend.jobs.models import OutboxJob
from backend.ocr import jobs as ocr_jobs
from backend.ocr import service
from backend.ocr.models import DocumentExtraction, ExtractionCorrection
from backend.org.models import User
from tests.approvals.conftest import deployed  # noqa: F401  (fixture)
from tests.projects.factories import PROJECT_CODE, make_org
from tests.tasks.test_views import PASSWORD, Client, signed_in

from ..files import samples

NAME = "杭州市西湖区文三路综合管廊工程"
SCALE = "新建综合管廊 3.2 公里, 含电力、通信、给水舱室及附属设施。"
CORRUPT_MARK = "CORRUPT-FOR-THE-FAKE"
FUNDING = (
    ("中央预算内资金", "30000000.00"),
    ("地方政府专项债券", "60000000.00"),
    ("企业自筹", "38000000.00"),
)


# --- a fake reader: pages with progress, a fixed set of found fields ---------------------------


class FakeDocumentError(ValueError):
    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Page:
    number: int
    text: str
    method: str
    seconds: float


@dataclass(frozen=True)
class Document:
    pages: list
    seconds: float


@dataclass(frozen=True)
class Found:
    name: str
    value: object
    snippet: str
    page: int
    confidence: float


def found_fields() -> dict:
    items = {
        "project_name": NAME,
        "project_code": PROJECT_CODE,
        "owner_unit": "杭州市城市建设投资集团有限公司",
        "location": "浙江省杭州市西湖区文三路",
        "total_investment_yuan": Decimal("128000000.00"),
        "funding_sources": [{"source": s, "amount": Decimal(a)} for s, a in FUNDING],
        "planned_start": "2026-03",
        "construction_period": 28,  # 2026-03 + 28 months: the last month is 2028-06
        "scale_content": SCALE,
    }
    return {k: Found(k, v, f"…{k} 的原文…", 2, 0.9) for k, v in items.items()}


class FakeOcr:
    PAGES = 3

    def __init__(self):
        self.calls = []  # filenames read
        self.seen_progress = []  # (pages_done, pages_total) in the database at each page, read elsewhere

    def read_document(self, data, *, filename, max_pages=50, time_limit=120.0, progress=None):
        self.calls.append((filename, max_pages, time_limit))
        if CORRUPT_MARK.encode() in data:
            raise FakeDocumentError("文件已损坏, 无法读取", "corrupt")
        for done in range(1, self.PAGES + 1):
            progress(done, self.PAGES)
            # What the polling page would read now, on another connection: the job holds no
            # transaction during the reading, so the short progress writes are committed.
            with db.engine.connect() as conn:
                self.seen_progress.append(
                    tuple(
                        conn.execute(sa.text("SELECT pages_done, pages_total FROM document_extraction")).one()
                    )
                )
        return Document([Page(n, "…", "text", 0.01) for n in range(1, self.PAGES + 1)], 0.03)

    def find_fields(self, document):
        return found_fields()


@pytest.fixture()
def fake_ocr(monkeypatch):
    fake = FakeOcr()
    reader = types.ModuleType("backend.ocr.reader")
    reader.DocumentError = FakeDocumentError
    reader.read_document = fake.read_document
    fields = types.ModuleType("backend.ocr.fields")
    fields.find_fields = fake.find_fields
    for name, module in (("reader", reader), ("fields", fields)):
        monkeypatch.setitem(sys.modules, f"backend.ocr.{name}", module)
        monkeypatch.setattr(backend.ocr, name, module, raising=False)
    monkeypatch.setattr(ocr_jobs, "PROGRESS_EVERY_SECONDS", 0)
    return fake


@pytest.fixture()
def org(session):
    made = make_org(session)
    outsider = User(username="outsider", display_name="李四", unit_id=made.other_unit.id, roles=["owner"])
    session.add(outsider)
    session.flush()
    for name in ("applicant", "outsider", "fgw_window"):
        user = session.scalar(sa.select(User).filter_by(username=name))
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    return made


def html(response) -> str:
    return response.get_data(as_text=True)


def upload(client, content: bytes, name="proposal.pdf", kind="proposal", **fields):
    return client.post(
        "/applications/new",
        data={
            "_ocr": "upload",
            "documents[0][kind]": kind,
            "documents[0][_file]": (io.BytesIO(content), name),
            **fields,
        },
        content_type="multipart/form-data",
    )


def the_extraction(session) -> DocumentExtraction:
    session.expire_all()
    return session.scalars(sa.select(DocumentExtraction)).one()


def count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


# --- the job --------------------------------------------------------------------------------


def test_upload_requests_an_extraction_and_the_job_reads_it_with_progress(app, session, org, fake_ocr):
    client = signed_in(app, "applicant")
    content = samples.pdf("proposal v1")
    response = upload(client, content)
    page = html(response)
    assert response.status_code == 200, page  # re-rendered, not validated: no errors shown
    assert "需要更正" not in page
    row = the_extraction(session)
    assert (row.state, row.kind, row.file_name, row.requested_by) == (
        "queued",
        "proposal",
        "proposal.pdf",
        "applicant",
    )
    assert "排队等待识别" in page and f'data-ocr-extraction="/ocr/extractions/{row.id}"' in page

    status = client.get(f"/ocr/extractions/{row.id}").get_json()
    assert (status["state"], status["pages_done"], status["pages_total"]) == ("queued", 0, None)

    assert jobs.drain() == 1
    assert fake_ocr.calls == [("proposal.pdf", 50, 120.0)]
    assert fake_ocr.seen_progress == [(1, 3), (2, 3), (3, 3)]
    row = the_extraction(session)
    assert (row.state, row.pages_done, row.pages_total, row.method) == ("done", 3, 3, "text")
    assert row.result["total_investment_yuan"] == {
        "value": "128000000.00",
        "snippet": "…total_investment_yuan 的原文…",
        "page": 2,
        "confidence": 0.9,
    }
    assert row.result["funding_sources"]["value"][0] == {"source": "中央预算内资金", "amount": "30000000.00"}
    assert row.finished_at is not None and row.error is None
    status = client.get(f"/ocr/extractions/{row.id}").get_json()
    assert status["state"] == "done" and status["pages_done"] == 3
    assert status["found"] == sorted(found_fields())


def test_limits_come_from_config(app, session, org, fake_ocr, monkeypatch):
    monkeypatch.setitem(app.config, "OCR_MAX_PAGES", 7)
    monkeypatch.setitem(app.config, "OCR_TIME_LIMIT_SECONDS", 9.5)
    upload(signed_in(app, "applicant"), samples.pdf("limits"))
    jobs.drain()
    assert fake_ocr.calls == [("proposal.pdf", 7, 9.5)]


def test_a_document_error_fails_the_extraction_and_keeps_the_upload(app, session, org, fake_ocr):
    client = signed_in(app, "applicant")
    content = samples.pdf(CORRUPT_MARK)
    upload(client, content, name="坏文件.pdf")
    jobs.drain()
    row = the_extraction(session)
    assert (row.state, row.error_code, row.error) == ("failed", "corrupt", "文件已损坏, 无法读取")
    assert row.result is None
    # The upload is kept: stored, and still in the form's documents after the next render.
    assert session.get(StoredFile, row.file_sha256) is not None
    assert path_of(row.file_sha256).read_bytes() == content
    again = client.post(
        "/applications/new",
        data={
            "_ocr": "upload",
            "documents[0][kind]": "proposal",
            "documents[0][sha256]": row.file_sha256,
            "documents[0][name]": "坏文件.pdf",
        },
        content_type="multipart/form-data",
    )
    page = html(again)
    assert again.status_code == 200
    assert f'value="{row.file_sha256}"' in page and "坏文件.pdf" in page
    assert "无法识别：文件已损坏, 无法读取" in page
    assert client.get(f"/ocr/extractions/{row.id}").get_json()["error"] == "文件已损坏, 无法读取"
    # The job itself did not fail: a document error is an outcome, not a retry.
    assert session.scalar(sa.select(OutboxJob.state)) == "done"


def test_the_same_file_is_read_once(app, session, org, fake_ocr):
    content = samples.pdf("same bytes")
    upload(signed_in(app, "applicant"), content, name="a.pdf")
    upload(signed_in(app, "applicant"), content, name="b.pdf", kind="feasibility")
    upload(signed_in(app, "outsider"), content, name="c.pdf")  # another person, the same bytes
    jobs.drain()
    upload(signed_in(app, "applicant"), content, name="d.pdf")  # after it was read
    jobs.drain()
    assert count(session, DocumentExtraction) == 1
    assert count(session, OutboxJob) == 1
    assert [c[0] for c in fake_ocr.calls] == ["a.pdf"]
    row = the_extraction(session)
    assert (row.kind, row.file_name, row.state) == ("proposal", "a.pdf", "done")


def test_other_material_is_not_read(app, session, org, fake_ocr):
    upload(signed_in(app, "applicant"), samples.pdf("other"), kind="other")
    assert count(session, DocumentExtraction) == 0


def test_only_who_may_read_the_file_sees_the_extraction(app, session, org, fake_ocr):
    upload(signed_in(app, "applicant"), samples.pdf("scope"))
    row = the_extraction(session)
    assert signed_in(app, "applicant").get(f"/ocr/extractions/{row.id}").status_code == 200
    # Another owner unit's applicant and the window (no process references the file yet): not found.
    assert signed_in(app, "outsider").get(f"/ocr/extractions/{row.id}").status_code == 404
    assert signed_in(app, "fgw_window").get(f"/ocr/extractions/{row.id}").status_code == 404
    assert signed_in(app, "applicant").get(f"/ocr/extractions/{row.id + 1}").status_code == 404
    anonymous = Client(app, app.response_class, use_cookies=True)  # forgets the cached user
    assert anonymous.get(f"/ocr/extractions/{row.id}").status_code in (302, 401)


# --- prefill and corrections ----------------------------------------------------------------


def test_prefill_round_trip_and_corrections(app, session, org, fake_ocr, deployed):  # noqa: F811
    client = signed_in(app, "applicant")
    upload(client, samples.pdf("proposal v1"), project_name="申请人自己填的名称")
    jobs.drain()
    row = the_extraction(session)

    keep = {
        "documents[0][kind]": "proposal",
        "documents[0][sha256]": row.file_sha256,
        "documents[0][name]": "proposal.pdf",
        "project_name": "申请人自己填的名称",
    }
    filled = client.post(
        "/applications/new", data={**keep, "_ocr": "fill"}, content_type="multipart/form-data"
    )
    page = html(filled)
    assert filled.status_code == 200, page
    assert "已用文件中的信息填写 8 项，请逐项核对" in page
    # Empty fields filled, converted to what the form takes; the typed name kept.
    assert 'value="申请人自己填的名称"' in page and f'value="{NAME}"' not in page
    assert f'value="{PROJECT_CODE}"' in page
    assert 'value="128000000.00"' in page
    assert 'value="2026-03-01"' in page and 'value="2028-06-30"' in page
    assert 'value="330106"' in page
    assert f'name="owner_unit_id" value="{org.unit.id}" checked' in page
    assert 'value="地方政府专项债券"' in page and 'value="60000000.00"' in page
    assert SCALE in page
    assert "来自文件，请核对" in page and "proposal.pdf 第 2 页：…total_investment_yuan 的原文…" in page
    prefilled = {
        "funding_sources": row.id,
        "owner_unit_id": row.id,
        "planned_end": row.id,
        "planned_start": row.id,
        "project_code": row.id,
        "region_code": row.id,
        "scale_content": row.id,
        "total_investment": row.id,
    }
    assert service.parse_prefilled(_hidden(page, "_ocr_prefilled")) == prefilled

    # Overwriting what was typed needs the box ticked.
    overwritten = client.post(
        "/applications/new",
        data={**keep, "_ocr": "fill", "_ocr_overwrite": "1"},
        content_type="multipart/form-data",
    )
    assert f'value="{NAME}"' in html(overwritten)
    assert service.parse_prefilled(_hidden(html(overwritten), "_ocr_prefilled")) == {
        **prefilled,
        "project_name": row.id,
    }

    # Submit: the name kept as typed (not from the file), the scale changed, the rest as filled.
    final = {
        "_ocr_prefilled": _hidden(page, "_ocr_prefilled"),
        "project_name": "申请人自己填的名称",
        "project_code": PROJECT_CODE,
        "owner_unit_id": str(org.unit.id),
        "region_code": "330106",
        "industry": "市政公用设施",
        "nature": "new",
        "total_investment": "128000000.00",
        "planned_start": "2026-03-01",
        "planned_end": "2028-06-30",
        "scale_content": "新建综合管廊 3.5 公里",
        "contact_name": "张伟",
        "contact_phone": "0571-87016688",
        "documents[0][kind]": "proposal",
        "documents[0][sha256]": row.file_sha256,
        "documents[0][name]": "proposal.pdf",
    }
    for i, (source, amount) in enumerate(FUNDING):
        final[f"funding_sources[{i}][source]"] = source
        final[f"funding_sources[{i}][amount]"] = amount
    for i, kind in enumerate(("feasibility", "preliminary_design"), start=1):
        final[f"documents[{i}][kind]"] = kind
        final[f"documents[{i}][_file]"] = (io.BytesIO(samples.pdf(f"{kind} v1")), f"{kind}.pdf")
    response = client.post("/applications/new", data=final, content_type="multipart/form-data")
    assert response.status_code == 302, html(response)

    session.expire_all()
    rows = {c.field: c for c in session.scalars(sa.select(ExtractionCorrection))}
    assert sorted(rows) == sorted(prefilled)
    assert {f for f, c in rows.items() if not c.accepted} == {"scale_content"}
    assert (rows["scale_content"].extracted, rows["scale_content"].submitted) == (
        SCALE,
        "新建综合管廊 3.5 公里",
    )
    assert (rows["total_investment"].extracted, rows["total_investment"].submitted) == ("128000000.00",) * 2
    assert rows["owner_unit_id"].submitted == str(org.unit.id)
    assert {c.project_code for c in rows.values()} == {PROJECT_CODE}
    assert {c.extraction_id for c in rows.values()} == {row.id}

    # The project is submitted: whoever sees its process may now read the extraction.
    assert signed_in(app, "fgw_window").get(f"/ocr/extractions/{row.id}").status_code == 200
    assert signed_in(app, "outsider").get(f"/ocr/extractions/{row.id}").status_code == 404

    result = app.test_cli_runner().invoke(args=["ocr", "accuracy"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("\t", 1) for line in result.output.strip().splitlines()[1:])
    assert lines["scale_content"] == "1\t0\t0.000"
    assert lines["total_investment"] == "1\t1\t1.000"
    assert len(lines) == 8


def test_corrections_ignore_extractions_the_submitter_may_not_read(app, session, org, fake_ocr):
    upload(signed_in(app, "applicant"), samples.pdf("private"))
    jobs.drain()
    row = the_extraction(session)
    outsider = session.scalar(sa.select(User).filter_by(username="outsider"))
    schema = _schema(session)
    with app.test_request_context():
        rows = service.record_corrections(
            session=session,
            user=outsider,
            schema=schema,
            data={"project_code": "x"},
            prefilled={"project_code": row.id},
            project_code=None,
        )
    assert rows == []


def _schema(session):
    from backend.forms import store as form_store

    return form_store.peek(session=session, name="project_application.json")


def _hidden(page: str, name: str) -> str:
    import html as html_lib
    import re

    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name}"
    return html_lib.unescape(match[1])


# --- conversions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "yuan", "expected"),
    [
        ("总投资 (元)", "128000000.00", "128000000.00"),
        ("总投资 (元)", "125000000", "125000000.00"),
        ("总投资 (万元)", "128000000.00", "12800"),
        ("总投资 (万元)", "123456789.01", "12345.678901"),
        ("总投资 (万元)", "125000000.50", "12500.00005"),
    ],
)
def test_amounts_follow_the_forms_unit_exactly(title, yuan, expected):
    assert service.yuan_to_form(Decimal(yuan), {"title": title}) == expected


def test_fill_leaves_typed_values_unless_overwrite():
    schema = {
        "type": "object",
        "properties": {"project_name": {"type": "string"}, "project_code": {"type": "string"}},
    }
    row = DocumentExtraction(
        id=5,
        state="done",
        result={
            "project_name": {"value": "甲", "snippet": "s", "page": 1},
            "project_code": {"value": "C", "snippet": "s", "page": 1},
        },
    )
    data = {"project_name": "乙"}
    assert service.fill(session=None, schema=schema, data=data, extractions=[row]) == {"project_code": 5}
    assert data == {"project_name": "乙", "project_code": "C"}
    assert service.fill(session=None, schema=schema, data=data, extractions=[row], overwrite=True) == {
        "project_name": 5,
        "project_code": 5,
    }
    assert data == {"project_name": "甲", "project_code": "C"}


def test_construction_period_gives_the_last_day_of_the_last_month():
    schema = {
        "type": "object",
        "properties": {"planned_start": {"type": "string"}, "planned_end": {"type": "string"}},
    }
    result = {
        "planned_start": {"value": "2025-11", "snippet": "", "page": 1},
        "construction_period": {"value": 4, "snippet": "", "page": 1},
    }
    values = service.form_values(session=None, schema=schema, result=result)
    # November, December, January, February: ends 2026-02-28 (2026 is no leap year).
    assert (values["planned_start"][0], values["planned_end"][0]) == ("2025-11-01", "2026-02-28")


# --- the real reader ------------------------------------------------------------------------


def test_real_text_pdf_end_to_end(app, session, org):
    body = (
        "<h1>杭州市西湖区文三路综合管廊工程项目建议书</h1>"
        "<table>"
        f"<tr><td>项目名称</td><td>{NAME}</td></tr>"
        f"<tr><td>项目代码</td><td>{PROJECT_CODE}</td></tr>"
        "<tr><td>建设单位</td><td>杭州市城市建设投资集团有限公司</td></tr>"
        "<tr><td>建设地点</td><td>浙江省杭州市西湖区</td></tr>"
        "<tr><td>总投资</td><td>12,800万元</td></tr>"
        "<tr><td>计划开工时间</td><td>2026年3月</td></tr>"
        "<tr><td>计划竣工时间</td><td>2028年6月</td></tr>"
        "</table>"
    )
    pdf = _pdf(body)
    client = signed_in(app, "applicant")
    upload(client, pdf, name="建议书.pdf")
    jobs.drain()
    row = the_extraction(session)
    assert row.state == "done", (row.error_code, row.error)
    assert (row.pages_done, row.pages_total, row.method) == (1, 1, "text")
    assert row.result["project_code"]["value"] == PROJECT_CODE
    assert row.result["total_investment_yuan"]["value"] == "128000000.00"
    assert row.result["planned_start"]["value"] == "2026-03"

    filled = client.post(
        "/applications/new",
        data={
            "_ocr": "fill",
            "documents[0][kind]": "proposal",
            "documents[0][sha256]": row.file_sha256,
            "documents[0][name]": "建议书.pdf",
        },
        content_type="multipart/form-data",
    )
    page = html(filled)
    assert 'value="128000000.00"' in page and f'value="{PROJECT_CODE}"' in page
    assert 'value="2026-03-01"' in page and 'value="2028-06-30"' in page


def _pdf(body: str) -> bytes:
    style = "<style>body{font-family:'Noto Sans CJK SC'} .next{break-before:page}</style>"
    return weasyprint.HTML(string=f"<html><head>{style}</head><body>{body}</body></html>").write_pdf()


def test_real_corrupt_pdf_fails_with_its_message_and_keeps_the_upload(app, session, org):
    good = _pdf("<p>项目名称：测试项目</p>")
    broken = good[: len(good) // 2]  # cut short: header fine, body and xref gone
    upload(signed_in(app, "applicant"), broken, name="残缺.pdf")
    jobs.drain()
    row = the_extraction(session)
    assert (row.state, row.error_code) == ("failed", "corrupt")
    assert row.error == "文件已损坏或不完整, 无法读取内容; 请重新导出或扫描后上传"
    assert path_of(row.file_sha256).read_bytes() == broken


def test_real_page_limit_from_config(app, session, org, monkeypatch):
    monkeypatch.setitem(app.config, "OCR_MAX_PAGES", 1)
    upload(signed_in(app, "applicant"), _pdf("<p>第一页</p><p class='next'>第二页</p>"), name="两页.pdf")
    jobs.drain()
    row = the_extraction(session)
    assert (row.state, row.error_code) == ("failed", "too_many_pages")
    assert row.error == "文档共 2 页, 超过可自动识别的上限 1 页; 请只上传申报所需的部分"
