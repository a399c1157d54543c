"""The public page's content filter for every project state × publication on/off: the rendered
HTML carries no money figure, person, username, opinion or document name; states that are not
public (or switched off) answer the same 404 as a code that does not exist."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from flask_babel import refresh

from backend.publicpage import service
from tests.api.conftest import Client

from .conftest import CODE, MONEY, PUBLIC, SECRETS, STATES, build_world, money_forms

# 15 March 2026, 10:00 in Hangzhou.
NOW = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)


def leaks(html: str) -> list[str]:
    found = []
    for source, amount in MONEY.items():
        for form in money_forms(amount):
            if form in html:
                found.append(f"{source}: {form}")
    for source, text in SECRETS.items():
        if text in html:
            found.append(f"{source}: {text}")
    return found


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
@pytest.mark.parametrize("status", STATES)
def test_every_state_shows_only_public_content(app, session, org, status, enabled):
    world = build_world(session, org, status=status)
    if not enabled:
        service.set_enabled(session=session, project=world.project, enabled=False, by="fgw_window")
        session.commit()
    anonymous = Client(app, app.response_class, use_cookies=True)
    with time_machine.travel(NOW, tick=False):
        page = anonymous.get(f"/p/{CODE}")
        refresh()  # tests share one app context, where flask-babel keeps the locale
        english = anonymous.get(f"/p/{CODE}", headers={"Accept-Language": "en"})
        refresh()
        nothing = anonymous.get("/p/2026-330106-48-01-999999")
        qr = anonymous.get(f"/p/{CODE}/qr.svg")
        form = anonymous.get(f"/p/{CODE}/feedback")
    html = page.get_data(as_text=True)
    assert nothing.status_code == 404
    if status in PUBLIC and enabled:
        assert page.status_code == 200, html
        assert qr.status_code == 200 and form.status_code == 200
        assert "西湖区文三路综合管廊工程" in html
        assert "杭州市城市建设投资集团有限公司" in html
        assert "浙江省 杭州市 西湖区" in html
        assert "基坑验收" in html  # a milestone
        assert "土方开挖" not in html  # not a milestone: the breakdown itself stays internal
        assert "31.7%" in html  # physical progress (computed below)
        assert leaks(html) == []
        assert english.status_code == 200
        assert "Physical progress" in english.get_data(as_text=True)
        assert leaks(english.get_data(as_text=True)) == []
    else:
        # Exactly the page of a code that does not exist: existence is not revealed.
        assert page.status_code == 404
        assert html == nothing.get_data(as_text=True)
        assert CODE not in html and "管廊" not in html
        assert qr.status_code == 404 and form.status_code == 404


def test_the_progress_figure_is_the_schedule_roll_up(app, session, world):
    # Top level: 1 (children 1.1 = 50, 1.2 = 100 → 75), 2 = 0, 3 = 20, weights 1 → (75+0+20)/3 = 31.67.
    # Hand check of what the page prints: one decimal of the 2-place figure.
    from backend.schedule import service as schedule

    figures = schedule.summary(session=session, project_id=world.project.id, at=NOW.date())
    view = service.page_of(session=session, project=world.project, today=NOW.date())
    assert view.progress == figures.progress[None] == Decimal("31.67")


def test_the_view_model_has_no_field_for_money_people_or_documents():
    fields = set(service.PublicPage.__dataclass_fields__)
    assert fields == {
        "code",
        "name",
        "owner_unit",
        "location",
        "planned_start",
        "planned_end",
        "progress",
        "milestones",
        "photos",
        "comments",
        "rating_average",
        "rating_count",
        "status",
    }
    assert set(service.PublicMilestone.__dataclass_fields__) == {"name", "planned_end", "state"}
    assert set(service.PublicComment.__dataclass_fields__) == {"rating", "comment", "day"}
    assert set(service.PublicPhotoView.__dataclass_fields__) == {"sha256", "caption", "width", "height"}
