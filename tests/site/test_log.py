"""The daily construction log: typed rows (codes, Decimal quantities, integer headcounts),
Chinese messages keeping what was typed, one log per project and day, edited that day by its
author only, with its revision history; its flags for the spot-check feed."""

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
import time_machine

from backend.schedule.models import WbsItem
from backend.site.models import SiteLog, SiteLogRevision

from .conftest import CODE, signed_in

LOG = f"/projects/{CODE}/site/log"
DAY = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)  # 17:00 in Hangzhou
NEXT_DAY = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)

VALID = {
    "weather": "rain",
    "temp_min": "12",
    "temp_max": "17.5",
    "workforce-trade": ["rebar", "formwork", ""],
    "workforce-headcount": ["28", "15", ""],
    "work_done": "底板钢筋绑扎",
    "materials-material": ["HRB400 螺纹钢"],
    "materials-quantity": ["42.125"],
    "materials-unit": ["吨"],
    "shortages-material": ["C35 商品混凝土"],
    "shortages-quantity": ["380"],
    "shortages-unit": ["立方米"],
    "shortages-impact": ["浇筑推迟 2 天"],
    "equipment-name": ["塔吊"],
    "equipment-count": ["2"],
    "equipment-state": ["working"],
    "problems": "混凝土供应不足",
    "needs_coordination": "1",
}


def test_a_valid_log_is_stored_as_typed_rows(app, session, project, people):
    item = WbsItem(
        project_id=project.id, code="1", name="基础", planned_start=DAY.date(), planned_end=DAY.date()
    )
    session.add(item)
    session.commit()
    with time_machine.travel(DAY, tick=False):
        builder = signed_in(app, "builder")
        assert builder.get(LOG).status_code == 200
        response = builder.post(LOG, data={**VALID, "wbs": [str(item.id)]})
    assert response.status_code == 302, response.get_data(as_text=True)
    log = session.scalar(sa.select(SiteLog))
    assert log.log_date.isoformat() == "2026-03-15" and log.weather == "rain"
    assert (log.temp_min, log.temp_max) == (Decimal("12.0"), Decimal("17.5"))
    assert [(w.trade, w.headcount) for w in log.workforce] == [("rebar", 28), ("formwork", 15)]
    assert log.headcount == 43
    assert [(m.material, m.quantity, m.unit) for m in log.materials] == [
        ("HRB400 螺纹钢", Decimal("42.125"), "吨")
    ]
    assert [(s.material, s.quantity, s.impact) for s in log.shortages] == [
        ("C35 商品混凝土", Decimal("380"), "浇筑推迟 2 天")
    ]
    assert [(e.name, e.count, e.state) for e in log.equipment] == [("塔吊", 2, "working")]
    assert [w.wbs_item_id for w in log.wbs_links] == [item.id]
    assert log.needs_coordination and log.flags == ["needs_coordination", "shortage"] and log.flagged
    assert (log.created_by, log.updated_by, log.version) == ("builder", "builder", 1)
    # Queryable per project and date by the risk model: a plain SQL sum over typed columns.
    total = session.execute(
        sa.text(
            "SELECT SUM(m.quantity) FROM site_log_material m JOIN site_log l ON l.id = m.log_id"
            " WHERE l.project_id = :p AND l.log_date = :d"
        ),
        {"p": project.id, "d": "2026-03-15"},
    ).scalar()
    assert Decimal(str(total)) == Decimal("42.125")


def test_invalid_log_keeps_what_was_typed(app, session, project, people):
    bad = {
        **VALID,
        "weather": "",
        "temp_min": "30",
        "temp_max": "20",
        "workforce-headcount": ["0", "15", ""],
        "materials-quantity": ["四十二"],
        "equipment-state": ["dancing"],
        "needs_coordination": "1",
        "problems": "",
    }
    with time_machine.travel(DAY, tick=False):
        response = signed_in(app, "builder").post(LOG, data=bad)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    for message in (
        "请选择天气",
        "最高气温不能低于最低气温",
        "第 1 行: 人数应为 1 到 10000 之间的整数",
        "进场材料第 1 行: 数量应为正数",
        "设备第 1 行: 请选择设备状态",
        "勾选“需协调”时请写明需要协调的问题",
    ):
        assert message in html, message
    # What was typed is back in the form.
    assert 'value="四十二"' in html and 'value="C35 商品混凝土"' in html and "底板钢筋绑扎" in html
    assert session.scalar(sa.select(sa.func.count(SiteLog.id))) == 0


def test_only_the_author_edits_and_only_that_day(app, session, project, people):
    with time_machine.travel(DAY, tick=False):
        builder = signed_in(app, "builder")
        assert builder.post(LOG, data=VALID).status_code == 302
        assert builder.post(LOG, data={**VALID, "work_done": "底板钢筋绑扎完成"}).status_code == 302
        monitor = signed_in(app, "monitor")
        page = monitor.get(LOG).get_data(as_text=True)
        assert "底板钢筋绑扎完成" in page and 'name="work_done"' not in page  # read-only for others
        assert monitor.post(LOG, data={**VALID, "work_done": "改写"}).status_code == 403
    with time_machine.travel(NEXT_DAY, tick=False):
        yesterday = builder.get(f"{LOG}?date=2026-03-15").get_data(as_text=True)
        assert "底板钢筋绑扎完成" in yesterday and 'name="work_done"' not in yesterday
        assert builder.post(f"{LOG}?date=2026-03-15", data=VALID).status_code == 403
        # Today's log is a new one.
        assert 'name="work_done"' in builder.get(LOG).get_data(as_text=True)
    log = session.scalar(sa.select(SiteLog))
    assert log.version == 2 and log.work_done == "底板钢筋绑扎完成"
    revisions = session.scalars(sa.select(SiteLogRevision).order_by(SiteLogRevision.version)).all()
    assert [(r.version, r.saved_by, r.content["work_done"]) for r in revisions] == [
        (1, "builder", "底板钢筋绑扎"),
        (2, "builder", "底板钢筋绑扎完成"),
    ]
    assert revisions[0].content["materials"] == [
        {"material": "HRB400 螺纹钢", "quantity": "42.125", "unit": "吨"}
    ]


def test_strangers_and_inspectors(app, session, project, people):
    with time_machine.travel(DAY, tick=False):
        assert signed_in(app, "stranger").get(LOG).status_code == 404
        inspector = signed_in(app, "insp")
        assert inspector.get(LOG).status_code == 200  # reads
        assert inspector.post(LOG, data=VALID).status_code == 403  # does not write


def test_log_photos_are_checked_against_the_log_day(app, session, site, people):
    import io

    from .conftest import site_photo

    today = datetime(2026, 3, 15, 16, 0)  # Beijing clock
    yesterday = datetime(2026, 3, 14, 16, 0)
    with time_machine.travel(DAY, tick=False):
        response = signed_in(app, "builder").post(
            LOG,
            data={
                **VALID,
                "needs_coordination": "",
                "shortages-material": [],
                "shortages-quantity": [],
                "shortages-unit": [],
                "shortages-impact": [],
                "photos": [
                    (io.BytesIO(site_photo(today)), "a.jpg"),
                    (io.BytesIO(site_photo(yesterday)), "b.jpg"),
                ],
            },
            content_type="multipart/form-data",
        )
    assert response.status_code == 302, response.get_data(as_text=True)
    log = session.scalar(sa.select(SiteLog))
    # Hours apart is normal for a day's log; another day is not.
    assert [p.flags for p in log.photos] == [[], ["photo_other_day"]]
    assert log.flags == ["photo_other_day"] and log.flagged


def test_owner_sets_the_site(app, session, project, people):
    from backend.audit.models import AuditRecord
    from backend.site.models import ProjectSite

    page = f"/projects/{CODE}/site/location"
    owner = signed_in(app, "applicant")
    bad = owner.post(
        page, data={"latitude": "95", "longitude": "120.15", "radius_m": "10", "address": "文三路"}
    )
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "纬度应为 -90 到 90 之间的数字" in html and "范围半径应为 20 到 5000 之间的整数" in html
    assert 'value="文三路"' in html
    assert (
        owner.post(
            page, data={"latitude": "30.25", "longitude": "120.15", "radius_m": "250", "address": "文三路"}
        ).status_code
        == 302
    )
    row = session.scalar(sa.select(ProjectSite))
    assert (row.latitude, row.longitude, row.radius_m, row.updated_by) == (
        Decimal("30.2500000"),
        Decimal("120.1500000"),
        250,
        "applicant",
    )
    assert (
        session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "site.location_update")) is not None
    )
    # The contractor works on the site but does not move it.
    assert (
        signed_in(app, "builder")
        .post(page, data={"latitude": "0", "longitude": "0", "radius_m": "100"})
        .status_code
        == 403
    )
