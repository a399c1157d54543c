"""The business export /applications/export.{xlsx,csv}: the applications list the person sees
(data scope, the page's filters), contact phones masked, `export.data` required, audited."""

import csv
import io
import re
import zipfile

import sqlalchemy as sa

from backend.audit.models import AuditRecord
from backend.projects.models import Project
from tests.authz import conftest as authz
from tests.authz.conftest import HZ_PROJECT, NB_PROJECT

# The access-control world (a province and a Hangzhou reviewer, 杭州 and 宁波 projects).
world = authz.world


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def _codes(rows) -> set[str]:
    return {row[0] for row in rows[1:]}


def test_the_export_is_the_list_the_person_sees(app, session, world):
    province = _csv_rows(world.client(app, "reviewer").get("/applications/export.csv"))
    assert province[0][:2] == ["项目代码", "项目名称"]
    assert _codes(province) == {HZ_PROJECT, NB_PROJECT}
    hangzhou = _csv_rows(world.client(app, "hz_reviewer").get("/applications/export.csv"))
    assert _codes(hangzhou) == {HZ_PROJECT}
    # The page lists the same.
    page = world.client(app, "hz_reviewer").get("/applications").get_data(as_text=True)
    assert set(re.findall(r'data-project-code="([^"]+)"', page)) == {HZ_PROJECT}


def test_the_pages_filters_apply(app, session, world):
    client = world.client(app, "reviewer")
    assert _codes(_csv_rows(client.get(f"/applications/export.csv?q={NB_PROJECT[-6:]}"))) == {NB_PROJECT}
    assert _codes(_csv_rows(client.get("/applications/export.csv?status=approved"))) == set()
    session.scalar(sa.select(Project).where(Project.code == HZ_PROJECT)).status = "approved"
    session.commit()
    assert _codes(_csv_rows(client.get("/applications/export.csv?status=approved"))) == {HZ_PROJECT}
    page = client.get("/applications?status=approved").get_data(as_text=True)
    assert set(re.findall(r'data-project-code="([^"]+)"', page)) == {HZ_PROJECT}
    # The export links carry the filters.
    assert "export.xlsx?status=approved" in page


def test_contact_phones_are_masked_and_formulas_defused(app, session, world):
    project = session.scalar(sa.select(Project).where(Project.code == HZ_PROJECT))
    project.contact_name = "李明"
    project.contact_phone = "13812345678"
    project.name = '=HYPERLINK("http://x")'
    session.commit()
    rows = _csv_rows(world.client(app, "reviewer").get("/applications/export.csv"))
    row = next(r for r in rows if r[0] == HZ_PROJECT)
    assert "138****5678" in row
    assert row[1].startswith("'=")
    body = world.client(app, "reviewer").get("/applications/export.xlsx")
    assert body.status_code == 200
    with zipfile.ZipFile(io.BytesIO(body.data)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert HZ_PROJECT in sheet and NB_PROJECT in sheet
    assert "138****5678" in sheet
    assert "13812345678" not in sheet


def test_export_needs_the_permission_and_the_button_follows_it(app, session, world):
    owner = world.client(app, "owner")
    assert owner.get("/applications/export.csv").status_code == 403
    assert owner.get("/applications/export.xlsx").status_code == 403
    assert 'id="export-xlsx"' not in owner.get("/applications").get_data(as_text=True)
    assert 'id="export-xlsx"' in world.client(app, "reviewer").get("/applications").get_data(as_text=True)


def test_the_export_is_audited(app, session, world):
    world.client(app, "hz_reviewer").get("/applications/export.xlsx?status=applying")
    entry = session.scalar(
        sa.select(AuditRecord).where(AuditRecord.action == "data.export").order_by(AuditRecord.id.desc())
    )
    assert entry is not None
    assert entry.username == "hz_reviewer"
    assert entry.detail["rows"] == 1
    assert entry.detail["filters"] == {"status": "applying"}
    assert entry.detail["format"] == "xlsx"
