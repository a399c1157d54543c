"""/projects/<code>/schedule: the tree table and figures, XLSX download and upload, scope."""

from datetime import UTC, date, datetime
from io import BytesIO

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import Workbook, load_workbook

from backend.accounts.service import set_password
from backend.org.models import User
from backend.projects.models import Project
from backend.schedule import service
from backend.schedule.models import WbsItem
from backend.schedule.xlsx import HEADERS
from tests.api.conftest import PASSWORD, client, org, signed_in  # noqa: F401  (fixtures)
from tests.api.conftest import make_project as api_project

CODE = "2026-330106-48-01-000888"
PAGE = f"/projects/{CODE}/schedule"
D = date


@pytest.fixture()
def site(session, org):  # noqa: F811
    made = api_project(session, org, CODE, "330106")
    for name, roles, region, unit in (
        ("rev_nb", ["reviewer"], "330200", None),  # another city: out of scope
        ("owner2", ["owner"], "330000", org.other_unit.id),  # an owner of another unit
    ):
        user = User(username=name, display_name=name, roles=roles, region_code=region, unit_id=unit)
        session.add(user)
        session.flush()
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    return made


def sheet(rows) -> bytes:
    book = Workbook()
    book.active.append(HEADERS)
    for row in rows:
        book.active.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


GOOD = [
    ["1", "土建工程", 1, "", "", D(2026, 3, 2), D(2026, 3, 27), 3, "否", "", ""],
    ["1.1", "基础施工", 2, "", "", D(2026, 3, 2), D(2026, 3, 6), 1, "否", "", ""],
    ["1.2", "主体结构", 2, "", "", D(2026, 3, 9), D(2026, 3, 20), 3, "是", "", "1.1"],
]


def upload(client, data: bytes):  # noqa: F811
    return client.post(
        f"{PAGE}/import", data={"file": (BytesIO(data), "wbs.xlsx")}, content_type="multipart/form-data"
    )


def test_owner_imports_sees_the_tree_and_downloads_it(app, session, site):
    owner = signed_in(app, "applicant")
    first = owner.get(PAGE)
    assert first.status_code == 200
    assert 'name="file"' in first.get_data(as_text=True)  # empty breakdown: the upload form
    bad = upload(owner, sheet([*GOOD, ["1.3", "装修", 2, "", "", D(2026, 3, 2), "明天", 1, "否", "", ""]]))
    assert bad.status_code == 400
    assert "第5行 第G列（计划完成）" in bad.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(WbsItem)) == 0
    assert upload(owner, sheet(GOOD)).status_code == 302
    html = owner.get(PAGE).get_data(as_text=True)
    assert 'data-code="1.2"' in html and "主体结构" in html
    assert 'name="file"' not in html  # no re-import over an existing breakdown
    assert 'data-figure="deviation">—' in html  # no baseline yet
    project = session.scalar(sa.select(Project).where(Project.code == CODE))
    service.create_baseline(session=session, project_id=project.id, by="applicant")
    leaf = session.scalar(sa.select(WbsItem).where(WbsItem.project_id == project.id, WbsItem.code == "1.1"))
    service.record_progress(
        session=session,
        item=leaf,
        percent=100,
        by="applicant",
        actual_start=D(2026, 3, 2),
        actual_end=D(2026, 3, 6),
    )
    session.commit()
    # On 2026-03-30 everything was planned done: PV = 100; P(1) = (1·100 + 3·0) / 4 = 25 → −75 points.
    # No official calendar here (weekends only): W(03-02, 03-30) = 21, rate 25/21, remaining
    # ceil(75 / (25/21)) = 63 → W(03-02, forecast end) = 84 against W(03-02, 03-27) = 20:
    # 工期偏差率 = 64 / 20 = 3.2 → 320 %.
    with time_machine.travel(datetime(2026, 3, 30, 2, 0, tzinfo=UTC), tick=False):
        html = signed_in(app, "applicant").get(PAGE).get_data(as_text=True)
    assert 'data-figure="progress">25.00%' in html
    assert 'data-figure="planned">100.00%' in html
    assert 'data-figure="deviation">-75.00' in html
    assert "· 320.00%" in html
    assert html.count(">逾期<") == 2  # 1 and 1.2 ended before 03-30 unfinished; 1.1 is done
    download = owner.get(f"{PAGE}.xlsx")
    assert download.status_code == 200
    rows = [[c.value for c in row] for row in load_workbook(BytesIO(download.data)).active.iter_rows()]
    assert [r[0] for r in rows] == ["编码", "1", "1.1", "1.2"]
    assert rows[3][10] == "1.1"


def test_scope_and_owner_unit(app, session, site):
    assert signed_in(app, "rev_nb").get(PAGE).status_code == 404
    assert signed_in(app, "rev_nb").get(f"{PAGE}.xlsx").status_code == 404
    other = signed_in(app, "owner2")
    assert 'name="file"' not in other.get(PAGE).get_data(as_text=True)
    assert upload(other, sheet(GOOD)).status_code == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(WbsItem)) == 0
