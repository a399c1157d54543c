"""Request bodies over MAX_CONTENT_LENGTH: a clear Chinese 413 (a page, or a problem document
under /api/v1), refused before the body is read. Uploaded files themselves are checked by
content (backend/files: sniffed type must agree with the extension; per-file size limit):
tests/files/test_store.py, and here once through the store's public entry point."""

import io

import pytest

from backend.config import Config
from backend.files import service as files
from backend.files.errors import FileRefused
from tests.security.conftest import sign_in

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_an_oversized_form_post_is_a_chinese_413_page(app, session, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    response = app.test_client().post(
        "/login", data={"username": "x", "password": "y", "pad": "a" * (1024 * 1024 + 1)}
    )
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "上传的内容超过了允许的大小 1 MB" in page
    assert "<html" in page.lower()


def test_an_oversized_upload_is_refused(app, session, people, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    client = sign_in(app, "designer")
    response = client.post(
        "/designer/api/import",
        data={"file": (io.BytesIO(b"<x/>" * 20_000), "big.bpmn")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "超过了允许的大小" in response.get_data(as_text=True)


def test_an_oversized_api_call_is_a_problem_document(app, session, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = app.test_client().post(
        "/api/v1/processes/x/instances", data=b"{" + b" " * 2048 + b"}", content_type="application/json"
    )
    assert response.status_code == 413, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 413


def test_the_default_limit_admits_the_largest_file():
    assert Config.MAX_CONTENT_LENGTH > files.MAX_BYTES


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("report.pdf", b"MZ\x90\x00" + b"\x00" * 200),
        ("photo.png", PDF),
        ("notes.txt", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
    ],
)
def test_content_that_contradicts_its_name_is_refused(session, name, data):
    with pytest.raises(FileRefused) as refused:
        files.store(session=session, data=data, declared_name=name)
    assert refused.value.reason in ("name_mismatch", "type_not_allowed")
    assert name in str(refused.value)


def test_an_oversized_file_is_refused(session):
    with pytest.raises(FileRefused) as refused:
        files.store(session=session, data=PDF + b"0" * 2048, declared_name="big.pdf", max_bytes=1024)
    assert refused.value.reason == "too_large"
    assert "超过大小上限" in str(refused.value)


def test_one_huge_text_field_is_a_chinese_413_too(app, session, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_FORM_MEMORY_SIZE", 1024)
    response = app.test_client().post(
        "/login", data={"username": "x", "password": "y" * 4096}, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    assert "提交的表单内容过大" in response.get_data(as_text=True)
