"""Content-addressed storage: sniffing from content, limits, refusals, deduplication."""

import hashlib
import io
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from backend.extensions import db
from backend.files import service, sniff
from backend.files.errors import FileMissing, FileRefused
from backend.files.models import StoredFile
from backend.files.service import DOCUMENT_TYPES, MAX_BYTES, open_file, path_of, store
from tests.files import samples

EVERYTHING = frozenset(sniff.LABELS)


@pytest.fixture(autouse=True)
def files_dir(app, tmp_path, monkeypatch):
    """A fresh FILES_DIR per test, so 'nothing left behind' is checkable."""
    folder = tmp_path / "files"
    monkeypatch.setitem(app.config, "FILES_DIR", str(folder))
    return folder


def leftovers(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def row_count(session):
    return session.scalar(sa.select(sa.func.count()).select_from(StoredFile))


TEXT_ZH = "浙江省重点项目申报说明\n第一条 项目建设单位应当如实填报。\n".encode()


@pytest.mark.parametrize(
    "name, data, content_type",
    [
        ("可行性研究报告.pdf", samples.pdf(), sniff.PDF),
        ("现场照片.png", samples.png(), sniff.PNG),
        ("现场照片.jpg", samples.jpeg(), sniff.JPEG),
        ("IMG_0001.JPEG", samples.jpeg(), sniff.JPEG),
        ("动图.gif", samples.GIF, sniff.GIF),
        ("照片.webp", samples.WEBP, sniff.WEBP),
        ("项目建议书.docx", samples.docx(), sniff.DOCX),
        ("投资计划.xlsx", samples.xlsx(), sniff.XLSX),
        ("说明.txt", TEXT_ZH, sniff.TEXT),
        ("清单.csv", "项目,金额\n道路,100.00\n桥梁,200.50\n".encode(), sniff.CSV),
        ("数据.json", '{"项目": "道路", "金额": "100.00"}'.encode(), sniff.JSON),
        ("列表.json", b"[1, 2, 3]\n", sniff.JSON),
        ("带BOM.txt", b"\xef\xbb\xbf" + TEXT_ZH, sniff.TEXT),
        ("扫描件", samples.pdf("no extension"), sniff.PDF),  # no claim in the name: content decides
    ],
)
def test_sniffs_each_type_from_content(session, files_dir, name, data, content_type):
    row = store(session=session, data=data, declared_name=name, allowed_types=EVERYTHING)
    session.commit()
    sha256 = hashlib.sha256(data).hexdigest()
    assert (row.sha256, row.size, row.content_type) == (sha256, len(data), content_type)
    assert leftovers(files_dir) == [f"{sha256[:2]}/{sha256[2:4]}/{sha256}"]
    with open_file(sha256=sha256) as f:
        assert f.read() == data


@pytest.mark.parametrize(
    "data, content_type",
    [
        (samples.plain_zip(), sniff.ZIP),
        (samples.docx(main_type="application/vnd.ms-word.document.macroEnabled.main+xml"), sniff.DOCM),
        (b"PK\x03\x04 truncated archive", sniff.UNKNOWN),
        ("项目名称".encode("gbk"), sniff.UNKNOWN),  # not UTF-8
        (b"text with a \x00 NUL byte", sniff.UNKNOWN),
        (b"\x89PNG\r\n\x1a\nbut no IHDR chunk", sniff.UNKNOWN),
        (b"{not json", sniff.TEXT),
        (b"12345", sniff.TEXT),  # a JSON scalar is not a JSON document
        ("一行文字, 带一个逗号\n第二行没有\n".encode(), sniff.TEXT),
    ],
)
def test_sniffs_what_is_not_a_document(session, data, content_type):
    row = store(session=session, data=data, declared_name="upload", allowed_types=EVERYTHING)
    assert row.content_type == content_type


def test_utf8_character_split_across_chunks_is_still_text(session, monkeypatch):
    monkeypatch.setattr(service, "_CHUNK_BYTES", 16)
    data = ("a" * 15 + "中文" * 20 + "\n").encode()  # '中' straddles the first chunk boundary
    row = store(session=session, data=io.BytesIO(data), declared_name="a.txt", allowed_types={sniff.TEXT})
    assert row.content_type == sniff.TEXT


def test_csv_detection_ignores_a_line_cut_by_the_head(session):
    header = "编号,名称\n".encode()  # 14 bytes, then rows of 16: the head ends 2 bytes into a row
    data = header + "".join(f"{i:05d},abcdefghi\n" for i in range(2000)).encode()
    assert data[: sniff.HEAD_BYTES].rpartition(b"\n")[2] == b"00"
    row = store(session=session, data=data, declared_name="清单.csv", allowed_types={sniff.CSV})
    assert row.content_type == sniff.CSV


def test_same_file_twice_is_one_blob_and_one_row(session, files_dir):
    data = samples.pdf("same")
    first = store(session=session, data=data, declared_name="a.pdf")
    second = store(
        session=session, data=io.BytesIO(data), declared_name="另一个名字.pdf"
    )  # same unit of work
    session.commit()
    third = store(session=session, data=data, declared_name="b.pdf")
    session.commit()
    assert first.sha256 == second.sha256 == third.sha256
    assert second is first and third is first
    assert row_count(session) == 1
    assert len(leftovers(files_dir)) == 1


def test_concurrent_upload_of_the_same_bytes_keeps_the_other_row(session, files_dir, monkeypatch):
    data = samples.png((0, 128, 255))
    store(session=session, data=data, declared_name="a.png")
    session.commit()
    session.expunge_all()
    # As if another upload inserted the row between our lookup and our insert.
    real_get, calls = session.get, []

    def get_missing_once(*args, **kwargs):
        calls.append(args)
        return None if len(calls) == 1 else real_get(*args, **kwargs)

    monkeypatch.setattr(session, "get", get_missing_once)
    row = store(session=session, data=data, declared_name="b.png")
    assert len(calls) == 2
    assert row.sha256 == hashlib.sha256(data).hexdigest() and row.content_type == sniff.PNG
    session.commit()  # the unit of work survives the failed insert
    assert row_count(session) == 1
    assert len(leftovers(files_dir)) == 1


@pytest.mark.postgres
def test_racing_uploads_of_the_same_bytes_store_once(app, session, files_dir, monkeypatch):
    """Four uploads all look up the hash before any inserts; on PostgreSQL the losers wait on
    the primary key, fail inside their savepoint and return the winner's row. (SQLite's
    BEGIN IMMEDIATE serialises whole units of work, so there the race cannot arise.)"""
    data = samples.pdf("race")
    barrier = threading.Barrier(4, timeout=30)
    real_get = Session.get

    def get_then_wait_for_the_others(self, entity, ident, **kwargs):
        found = real_get(self, entity, ident, **kwargs)
        if entity is StoredFile and not kwargs.get("populate_existing"):
            barrier.wait()
        return found

    monkeypatch.setattr(Session, "get", get_then_wait_for_the_others)
    outcomes = []

    def upload(i):
        with app.app_context():
            try:
                row = store(session=db.session, data=data, declared_name=f"{i}.pdf")
                db.session.commit()
                outcomes.append(row.sha256)
            except Exception as exc:
                db.session.rollback()
                outcomes.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes == [hashlib.sha256(data).hexdigest()] * 4
    monkeypatch.undo()
    assert row_count(session) == 1
    assert len(leftovers(files_dir)) == 1


def test_blob_lost_from_disk_is_put_back(session, files_dir):
    data = samples.png()
    row = store(session=session, data=data, declared_name="a.png")
    session.commit()
    path_of(row.sha256).unlink()
    with pytest.raises(FileMissing):
        open_file(sha256=row.sha256)
    store(session=session, data=data, declared_name="a.png")
    assert path_of(row.sha256).read_bytes() == data


class CountingReader(io.RawIOBase):
    """An endless upload of zeros that records how much was read from it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        buffer[:] = bytes(len(buffer))
        self.read_bytes += len(buffer)
        return len(buffer)


def test_oversized_stream_is_refused_early(session, files_dir):
    stream = io.BufferedReader(CountingReader(), buffer_size=64 * 1024)
    with pytest.raises(FileRefused) as refused:
        store(session=session, data=stream, declared_name="huge.pdf", max_bytes=1000)
    assert refused.value.reason == "too_large"
    assert refused.value.data["max_bytes"] == 1000
    assert "1000 字节" in str(refused.value)
    assert stream.raw.read_bytes <= 2 * 1024 * 1024  # stopped after the first chunk, never read to the end
    assert leftovers(files_dir) == []
    assert row_count(session) == 0


def test_limit_is_inclusive(session):
    data = samples.pdf()
    assert store(session=session, data=data, declared_name="a.pdf", max_bytes=len(data)).size == len(data)
    with pytest.raises(FileRefused) as refused:
        store(session=session, data=data + b"\n", declared_name="a.pdf", max_bytes=len(data))
    assert refused.value.reason == "too_large"


def test_default_limit_is_50_mib(session, monkeypatch):
    assert MAX_BYTES == 50 * 1024 * 1024
    monkeypatch.setattr(service, "MAX_BYTES", 100)
    with pytest.raises(FileRefused) as refused:
        store(session=session, data=samples.pdf(), declared_name="a.pdf")
    assert refused.value.reason == "too_large"
    assert "100 字节" in str(refused.value)


def test_empty_file_is_refused(session, files_dir):
    with pytest.raises(FileRefused) as refused:
        store(session=session, data=io.BytesIO(b""), declared_name="a.pdf")
    assert refused.value.reason == "empty"
    assert "空文件" in str(refused.value)
    assert leftovers(files_dir) == []


@pytest.mark.parametrize(
    "data",
    [samples.pdf(), samples.jpeg(), samples.png(), samples.docx()],
    ids=["pdf", "jpeg", "png", "docx"],
)
def test_default_types_accept_application_documents(session, data):
    assert store(session=session, data=data, declared_name="材料").content_type in DOCUMENT_TYPES


@pytest.mark.parametrize(
    "name, data",
    [
        ("动图.gif", samples.GIF),
        ("表格.xlsx", samples.xlsx()),
        ("说明.txt", TEXT_ZH),
        ("archive.zip", samples.plain_zip()),
        ("program", b"MZ\x90\x00\x03\x00\x00\x00"),
    ],
)
def test_default_types_refuse_everything_else(session, files_dir, name, data):
    with pytest.raises(FileRefused) as refused:
        store(session=session, data=data, declared_name=name)
    assert refused.value.reason == "type_not_allowed"
    assert refused.value.data["allowed_types"] == sorted(DOCUMENT_TYPES)
    assert "PDF 文档" in str(refused.value) and "Word 文档 (docx)" in str(refused.value)
    assert leftovers(files_dir) == []
    assert row_count(session) == 0


def test_allowed_types_narrow_the_choice(session):
    with pytest.raises(FileRefused) as refused:
        store(
            session=session, data=samples.pdf(), declared_name="a.pdf", allowed_types={sniff.PNG, sniff.JPEG}
        )
    assert refused.value.reason == "type_not_allowed"
    assert refused.value.data["content_type"] == sniff.PDF


@pytest.mark.parametrize(
    "name, data",
    [
        ("报告.pdf", samples.png()),  # a .pdf that is not a PDF
        ("报告.pdf", TEXT_ZH),
        ("照片.png", samples.jpeg()),
        ("照片.jpg", samples.png()),
        ("建议书.docx", samples.xlsx()),
        ("建议书.docx", samples.plain_zip()),
        ("建议书.docx", samples.docx(main_type="application/vnd.ms-word.document.macroEnabled.main+xml")),
        ("数据.json", b"plain words"),
        ("setup.exe", samples.pdf()),  # unknown extension: no claim we can agree with
        ("报告.pdf.exe", samples.pdf()),
    ],
)
def test_name_contradicting_content_is_refused(session, files_dir, name, data):
    with pytest.raises(FileRefused) as refused:
        store(session=session, data=data, declared_name=name, allowed_types=EVERYTHING)
    assert refused.value.reason == "name_mismatch"
    assert refused.value.data["declared_name"] == name
    assert leftovers(files_dir) == []
    assert row_count(session) == 0


def test_refusal_leaves_an_existing_blob_alone(session, files_dir):
    data = samples.png()
    row = store(session=session, data=data, declared_name="a.png")
    session.commit()
    with pytest.raises(FileRefused):
        store(session=session, data=data, declared_name="a.pdf")
    assert leftovers(files_dir) == [f"{row.sha256[:2]}/{row.sha256[2:4]}/{row.sha256}"]


def test_name_from_a_windows_path_and_upper_case_extension(session):
    row = store(session=session, data=samples.pdf(), declared_name="C:\\Users\\张三\\桌面\\报告.PDF")
    assert row.content_type == sniff.PDF


@pytest.mark.parametrize("name", ["", "   ", "a\x00.pdf", "dir/", "x" * 252 + ".pdf", None])
def test_bad_names_are_refused_before_reading(session, files_dir, name):
    stream = io.BufferedReader(CountingReader())
    with pytest.raises(FileRefused) as refused:
        store(session=session, data=stream, declared_name=name)
    assert refused.value.reason == "bad_name"
    assert stream.raw.read_bytes == 0
    assert leftovers(files_dir) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "abc", "0" * 63 + "/"])
def test_path_of_accepts_only_a_digest(bad):
    with pytest.raises(ValueError):
        path_of(bad)


def test_layout(session, files_dir):
    digest = hashlib.sha256(b"x").hexdigest()
    assert path_of(digest) == files_dir / digest[:2] / digest[2:4] / digest
