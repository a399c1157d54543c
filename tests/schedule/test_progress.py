"""Progress reports on WBS leaves through the pages: who may report (responsible person,
responsible unit, owner unit; others 403, out of scope 404), evidence files readable by the
project's viewers only, refused input and refused uploads that lose nothing, the Shanghai
date, and "我的进度任务"."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from io import BytesIO

import pytest
import sqlalchemy as sa
import time_machine
from PIL import Image

from backend.schedule import service
from backend.schedule.models import WbsItem, WbsProgress, WbsProgressFile
from backend.schedule.service import ScheduleError
from tests.api.conftest import org, signed_in  # noqa: F401  (fixture)
from tests.files.samples import pdf

from .progress_fixtures import CODE, D, wbs  # noqa: F401  (fixture)


def url(item_code: str) -> str:
    return f"/projects/{CODE}/wbs/{item_code}/progress"


def photo(color=(200, 80, 40)) -> bytes:
    out = BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "JPEG")
    return out.getvalue()


def post(client, item_code, files=(), **fields):
    data = {"percent": "40", "note": "", "actual_start": "", "actual_end": "", **fields}
    data["evidence"] = [(BytesIO(content), name) for name, content in files]
    return client.post(url(item_code), data=data, content_type="multipart/form-data")


def count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


# who: (GET status, form shown, POST status) per item
MATRIX = {
    "applicant": {"1.1": (200, True, 302), "1.2": (200, True, 302)},  # owner unit, schedule.edit
    "foreman": {"1.1": (200, False, 403), "1.2": (200, True, 302)},  # responsible in person
    "crew": {"1.1": (200, True, 302), "1.2": (200, False, 403)},  # responsible unit, site.checkin
    "fgw_reviewer": {"1.1": (200, False, 403), "1.2": (200, False, 403)},  # sees, reports nothing
    "rev_nb": {"1.1": (404, False, 404), "1.2": (404, False, 404)},  # out of scope
    "outsider": {"1.1": (404, False, 404), "1.2": (404, False, 404)},  # contractor, not involved
}


@pytest.mark.parametrize("username", sorted(MATRIX))
def test_who_may_report(app, session, wbs, username):  # noqa: F811
    client = signed_in(app, username)
    for item_code, (status, form, posted) in MATRIX[username].items():
        page = client.get(url(item_code))
        assert page.status_code == status, (username, item_code)
        assert ("data-progress-form" in page.get_data(as_text=True)) is form, (username, item_code)
        answer = post(client, item_code, percent="30")
        assert answer.status_code == posted, (username, item_code, answer.get_data(as_text=True)[:500])
    session.expire_all()
    reported = {item.code: item.percent_complete for item in session.scalars(sa.select(WbsItem))}
    for item_code, (_s, _f, posted) in MATRIX[username].items():
        assert reported[item_code] == (Decimal("30.00") if posted == 302 else Decimal("0.00"))


def test_parent_items_take_no_report(app, session, wbs):  # noqa: F811
    client = signed_in(app, "applicant")
    page = client.get(url("1")).get_data(as_text=True)
    assert "data-progress-form" not in page and "由下级任务汇总" in page
    answer = post(client, "1", percent="10")
    assert answer.status_code == 400 and "只能对最末级任务填报进度" in answer.get_data(as_text=True)
    assert count(session, WbsProgress) == 0


def test_evidence_is_stored_shown_and_readable_by_project_viewers_only(app, session, wbs):  # noqa: F811
    foreman = signed_in(app, "foreman")
    answer = post(
        foreman,
        "1.2",
        files=[("现场照片.jpg", photo()), ("验收记录.pdf", pdf("ok"))],
        percent="55.5",
        note="二层楼板浇筑完成",
        actual_start="2026-03-09",
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)[:800]
    files = session.scalars(sa.select(WbsProgressFile).order_by(WbsProgressFile.name)).all()
    assert [f.name for f in files] == ["现场照片.jpg", "验收记录.pdf"]
    jpg, doc = files[0].sha256, files[1].sha256
    page = foreman.get(url("1.2")).get_data(as_text=True)
    assert f'<img src="/files/{jpg}"' in page  # a thumbnail for the photo
    assert f'href="/files/{doc}"' in page and "验收记录.pdf" in page  # a link for the PDF
    assert "55.50%" in page and "二层楼板浇筑完成" in page and "王工长" in page
    for username, status in (
        ("fgw_reviewer", 200),  # sees the project
        ("applicant", 200),  # the owner unit
        ("crew", 200),  # responsible for another item of the project
        ("rev_nb", 403),  # out of scope
        ("outsider", 403),
    ):
        client = signed_in(app, username)
        for sha256 in (jpg, doc):
            assert client.get(f"/files/{sha256}").status_code == status, (username, sha256)
    shown = signed_in(app, "fgw_reviewer").get(f"/files/{doc}")
    assert "filename*=UTF-8''%E9%AA%8C%E6%94%B6%E8%AE%B0%E5%BD%95.pdf" in shown.headers["Content-Disposition"]


def test_bad_input_shows_the_error_and_keeps_what_was_typed(app, session, wbs):  # noqa: F811
    client = signed_in(app, "foreman")
    for fields, message in (
        ({"percent": "120"}, "完成百分比须在 0 到 100 之间"),
        ({"percent": ""}, "请填写完成百分比"),
        ({"percent": "abc"}, "完成百分比须为数字"),
        ({"percent": "50", "actual_start": "2026-13-01"}, "日期格式应为 YYYY-MM-DD"),
        ({"percent": "50", "actual_end": "2026-03-20"}, "完成百分比为 100 时才能填写实际完成日期"),
        (
            {"percent": "100", "actual_start": "2026-03-12", "actual_end": "2026-03-10"},
            "实际完成日期不能早于实际开始日期",
        ),
        ({"percent": "20", "actual_start": "2099-01-01"}, "实际日期不能晚于今天"),
    ):
        answer = post(client, "1.2", note="模板已拆除<b>", **fields)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 400, fields
        assert message in html, (fields, html[:2000])
        assert "模板已拆除&lt;b&gt;</textarea>" in html  # kept, escaped
        assert f'name="percent" min="0" max="100" step="0.01" value="{fields["percent"]}"' in html
    assert count(session, WbsProgress) == 0
    session.expire_all()
    assert session.scalar(sa.select(WbsItem.percent_complete).where(WbsItem.code == "1.2")) == Decimal("0.00")


def test_a_refused_upload_loses_nothing_else(app, session, wbs):  # noqa: F811
    client = signed_in(app, "crew")
    answer = post(
        client,
        "1.1",
        files=[("基坑.jpg", photo()), ("说明.txt", b"just text")],
        percent="80",
        note="基坑验槽",
        actual_start="2026-03-02",
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "说明.txt" in html and "data-upload-error" in html  # the refusal, in Chinese
    assert "基坑验槽</textarea>" in html and 'value="80"' in html and 'value="2026-03-02"' in html
    kept = re.search(r'name="kept" value="([0-9a-f]{64}):基坑.jpg"', html)
    assert kept, html[:3000]  # the accepted photo is offered again, not lost
    assert count(session, WbsProgress) == 0
    # Sent again with the kept photo: recorded with it.
    again = client.post(
        url("1.1"),
        data={
            "percent": "80",
            "note": "基坑验槽",
            "actual_start": "2026-03-02",
            "kept": f"{kept.group(1)}:基坑.jpg",
        },
    )
    assert again.status_code == 302
    entry = session.scalars(sa.select(WbsProgress)).one()
    assert [(f.sha256, f.name) for f in entry.files] == [(kept.group(1), "基坑.jpg")]
    assert entry.note == "基坑验槽" and entry.actual_start == D(2026, 3, 2)


def test_a_kept_hash_of_a_file_one_may_not_read_attaches_nothing(app, session, org, wbs):  # noqa: F811
    # The applicant's application document: crew may not read it, so typing its hash into the
    # form must not attach it (and so open it to the project's viewers).
    secret = org.files["proposal"].sha256
    crew = signed_in(app, "crew")
    assert crew.get(f"/files/{secret}").status_code == 403
    assert crew.post(url("1.1"), data={"percent": "10", "kept": f"{secret}:x.pdf"}).status_code == 302
    entry = session.scalars(sa.select(WbsProgress)).one()
    assert entry.files == [] and count(session, WbsProgressFile) == 0
    assert crew.get(f"/files/{secret}").status_code == 403


def test_today_is_the_shanghai_date(session, wbs):  # noqa: F811
    # 2026-03-09 23:30 UTC is 07:30 on 10 March in Beijing.
    with time_machine.travel(datetime(2026, 3, 9, 23, 30, tzinfo=UTC), tick=False):
        service.record_progress(session=session, item=wbs["1.2"], percent=10, by="foreman")
        assert wbs["1.2"].actual_start == D(2026, 3, 10)
        service.record_progress(session=session, item=wbs["1.2"], percent=100, by="foreman")
        assert wbs["1.2"].actual_end == D(2026, 3, 10)
        with pytest.raises(ScheduleError, match="不能晚于今天"):
            service.record_progress(
                session=session, item=wbs["1.2"], percent=100, by="foreman", actual_end=D(2026, 3, 11)
            )
    history = session.scalars(sa.select(WbsProgress).order_by(WbsProgress.id)).all()
    assert [(h.percent, h.actual_start, h.actual_end) for h in history] == [
        (Decimal("10.00"), D(2026, 3, 10), None),
        (Decimal("100.00"), D(2026, 3, 10), D(2026, 3, 10)),
    ]


def test_my_items_across_projects(app, session, wbs):  # noqa: F811
    def mine(username):
        answer = signed_in(app, username).get("/schedule/mine")
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    with time_machine.travel(datetime(2026, 3, 16, 2, 0, tzinfo=UTC), tick=False):
        foreman, crew, reviewer = mine("foreman"), mine("crew"), mine("fgw_reviewer")
    assert f'data-item="{CODE}/1.2"' in foreman and f'data-item="{CODE}/1.1"' not in foreman
    assert f'href="/projects/{CODE}/wbs/1.2/progress"' in foreman
    assert "data-overdue" not in foreman  # 1.2 is due on 20 March
    assert f'data-item="{CODE}/1.1"' in crew and "data-overdue" in crew  # due 6 March, 0 %
    assert f'data-item="{CODE}/1.2"' not in crew and f'data-item="{CODE}/1"' not in crew  # leaves only
    assert "data-my-progress-link" in crew  # site.checkin: the nav link
    assert "data-my-progress-link" not in reviewer and "data-item=" not in reviewer
    # Done items drop off unless asked for.
    crew_client = signed_in(app, "crew")
    answer = post(crew_client, "1.1", percent="100", actual_start="2026-03-02")
    assert answer.status_code == 302 and answer.location.endswith("/wbs/1.1/progress")
    unfinished = crew_client.get("/schedule/mine")
    assert unfinished.status_code == 200 and 'data-item="' not in unfinished.get_data(as_text=True)
    assert f'data-item="{CODE}/1.1"' in crew_client.get("/schedule/mine?all=1").get_data(as_text=True)
