"""GET /files/<sha256>: who may read a stored file (the people of the instances that
reference it, and its uploader), with the right headers, over real rows and real blobs."""

from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from backend.extensions import db
from backend.files import access
from backend.files.models import FileRef, StoredFile
from backend.files.service import path_of, store
from backend.files.sniff import DOCX, PDF
from backend.files.views import content_disposition, file_name
from backend.org.models import User
from backend.tasks.models import TaskAction, TaskCopy
from tests.tasks.conftest import World
from tests.tasks.test_views import Client, person, signed_in

from . import samples

STUDY = "可行性研究报告(补正).pdf"


@pytest.fixture()
def world(session):
    return World(session)


@pytest.fixture()
def shared(session, world):
    """An instance started by `applicant` whose data references a PDF with a Chinese name; li
    (发改 reviewer) has a task in it; wang (财政 reviewer) has nothing to do with it."""
    person(world, "applicant", roles=("owner",))
    person(world, "li", department=world.fgw)
    person(world, "wang", department=world.cz)
    instance = world.instance(started_by="applicant")
    world.task(instance=instance, group="fgw.reviewer", assignee="li")
    pdf = store(session=session, data=samples.pdf("study v2"), declared_name=STUDY)
    access.reference(
        session=session,
        instance_id=instance.id,
        data={"documents": [{"kind": "feasibility", "sha256": pdf.sha256, "name": STUDY}]},
    )
    session.commit()
    return instance, pdf


def test_a_participant_downloads_with_the_original_name(app, session, shared):
    _instance, pdf = shared
    response = signed_in(app, "applicant").get(f"/files/{pdf.sha256}")
    assert response.status_code == 200
    assert response.get_data() == samples.pdf("study v2")
    assert response.mimetype == PDF
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    # PDFs open in the browser; the Chinese name survives as RFC 5987 filename*.
    assert disposition.startswith("inline; ")
    assert disposition == (
        "inline; filename=\"download.pdf\"; filename*=UTF-8''"
        + quote(STUDY, safe="")  # the parentheses too: RFC 5987 attr-chars only
    )
    assert "private" in response.headers["Cache-Control"]
    # The hash is the ETag: a second look costs nothing.
    again = signed_in(app, "applicant").get(
        f"/files/{pdf.sha256}", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304

    reviewer = signed_in(app, "li").get(f"/files/{pdf.sha256}")
    assert reviewer.status_code == 200 and reviewer.get_data() == samples.pdf("study v2")


def test_someone_outside_the_instance_is_refused_with_a_chinese_page(app, session, shared):
    _instance, pdf = shared
    response = signed_in(app, "wang").get(f"/files/{pdf.sha256}")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "无权查看该文件" in page
    assert samples.pdf("study v2").decode("latin-1") not in page

    anonymous = Client(app, app.response_class).get(f"/files/{pdf.sha256}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_unknown_or_malformed_hashes_and_missing_blobs_are_404(app, session, shared):
    client = signed_in(app, "applicant")
    assert client.get(f"/files/{'0' * 64}").status_code == 404
    assert client.get("/files/not-a-hash").status_code == 404
    assert client.get(f"/files/{'A' * 64}").status_code == 404  # hashes are lower case
    # A row whose blob is gone (a restore without the files volume) is not a 500.
    instance, _pdf = shared
    ghost = StoredFile(sha256="f" * 64, size=3, content_type=PDF)
    session.add(ghost)
    session.flush()
    access.reference(session=session, instance_id=instance.id, data={"attachments": ["f" * 64]})
    session.commit()
    assert not path_of("f" * 64).exists()
    assert client.get(f"/files/{'f' * 64}").status_code == 404


def _copied(world, instance):
    world.session.add(TaskCopy(task_id="t0001", instance_id=instance.id, to_user="wang", from_user="li"))


def _transferred(world, instance):
    world.session.add(
        TaskAction(
            task_id="t0001", instance_id=instance.id, action="transfer", actor="li", target_user="wang"
        )
    )


def _group_task(world, instance):
    world.task(instance=instance, group="cz.reviewer")


@pytest.mark.parametrize("grant", [_copied, _transferred, _group_task], ids=["cc", "transfer", "group"])
def test_people_copied_named_or_offered_a_task_may_read(app, session, world, shared, grant):
    instance, pdf = shared
    grant(world, instance)
    session.commit()
    assert signed_in(app, "wang").get(f"/files/{pdf.sha256}").status_code == 200


def test_the_head_of_a_department_with_a_task_in_it_may_read(app, session, world, shared):
    instance, pdf = shared
    person(world, "sun", department=world.cz, roles=("head",))
    person(world, "zhou", department=world.fgw, roles=("head",))
    session.commit()
    # 发改 has a task in the instance, 财政 none.
    assert signed_in(app, "zhou").get(f"/files/{pdf.sha256}").status_code == 200
    assert signed_in(app, "sun").get(f"/files/{pdf.sha256}").status_code == 403
    world.task(instance=instance, group="cz.reviewer", assignee="wang")
    session.commit()
    assert signed_in(app, "sun").get(f"/files/{pdf.sha256}").status_code == 200


def test_the_uploader_may_read_before_any_instance_refers_to_it(app, session, world, shared):
    docx = store(session=session, data=samples.docx(), declared_name="会议纪要.docx")
    access.record_upload(session=session, sha256=docx.sha256, username="wang", name="会议纪要.docx")
    session.commit()
    response = signed_in(app, "wang").get(f"/files/{docx.sha256}")
    assert response.status_code == 200
    assert response.mimetype == DOCX
    # Anything but PDFs and images is a download, never rendered by the browser.
    assert response.headers["Content-Disposition"].startswith("attachment; ")
    assert quote("会议纪要.docx") in response.headers["Content-Disposition"]
    assert signed_in(app, "li").get(f"/files/{docx.sha256}").status_code == 403


def test_access_is_one_query_whatever_the_number_of_files(app, session, world, shared):
    instance, pdf = shared
    others = [
        store(session=session, data=samples.pdf(f"annex {i}"), declared_name=f"附件{i}.pdf") for i in range(5)
    ]
    access.reference(
        session=session, instance_id=instance.id, data={"annexes": [o.sha256 for o in others[:3]]}
    )
    session.commit()
    li = session.scalar(sa.select(User).filter_by(username="li"))
    li.groups  # noqa: B018  (load the department before counting)
    wanted = [pdf.sha256, *(o.sha256 for o in others), "0" * 64]
    expected = {pdf.sha256, *(o.sha256 for o in others[:3])}
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        readable = access.readable(session=session, user=li, hashes=wanted)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert readable == expected
    assert len(statements) == 1
    refs = session.scalars(sa.select(FileRef.sha256).filter_by(instance_id=instance.id)).all()
    assert len(refs) == 4


def test_download_names_are_safe_and_agree_with_the_content():
    assert file_name("可行性研究报告.pdf", PDF) == "可行性研究报告.pdf"
    assert file_name("invoice.exe", PDF) == "invoice.exe.pdf"
    assert file_name('..\\..\\a"b.PDF', PDF) == "_.._a_b.PDF"
    assert file_name("纪要", DOCX) == "纪要.docx"
    header = content_disposition("attachment", "纪要.docx")
    assert header == "attachment; filename=\"download.docx\"; filename*=UTF-8''%E7%BA%AA%E8%A6%81.docx"
    assert content_disposition("inline", "plan v2.pdf") == (
        "inline; filename=\"plan_v2.pdf\"; filename*=UTF-8''plan%20v2.pdf"
    )
