"""Check-in through the phone page: position and photos compared with the fence and the upload
time, flags stored (never a refusal for a flag), thumbnails made by the job, bombs refused
with nothing stored, and who may check in or see the photos."""

import io
from datetime import UTC, datetime

import sqlalchemy as sa
import time_machine
from PIL import Image

from backend import jobs
from backend.audit.models import AuditRecord
from backend.site.models import SiteCheckin, SitePhoto

from .conftest import CODE, SITE_LAT, SITE_LON, jpeg, signed_in, site_photo
from .test_exif_geo import bomb_png

CHECKIN = f"/projects/{CODE}/site/checkin"
NOW = datetime(2026, 3, 15, 2, 10, tzinfo=UTC)  # 10:10 in Hangzhou
TAKEN = datetime(2026, 3, 15, 10, 5)  # Beijing clock of the camera


def post(client, photos, **fields):
    data = {"note": fields.pop("note", ""), **fields}
    data["photos"] = [(io.BytesIO(body), name) for name, body in photos]
    return client.post(CHECKIN, data=data, content_type="multipart/form-data")


def test_clean_check_in_and_its_thumbnail(app, session, site, people):
    with time_machine.travel(NOW, tick=False):
        builder = signed_in(app, "builder")
        page = builder.get(CHECKIN)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'capture="environment"' in html and "multiple" in html and "site.js" in html
        # The platform denies geolocation everywhere but on the pages that ask for it.
        assert "geolocation=(self)" in page.headers["Permissions-Policy"]
        assert "camera=()" in page.headers["Permissions-Policy"]
        assert "geolocation=()" in builder.get(f"/projects/{CODE}/site/log").headers["Permissions-Policy"]
        response = post(
            builder,
            [("IMG_1.jpg", site_photo(TAKEN, north_m=50))],
            latitude=str(SITE_LAT),
            longitude=str(SITE_LON + 0),
            accuracy="8",
            note="早班",
        )
    assert response.status_code == 302, response.get_data(as_text=True)
    checkin = session.scalar(sa.select(SiteCheckin))
    assert checkin.flags == [] and not checkin.flagged and checkin.distance_m == 0
    assert checkin.username == "builder" and checkin.note == "早班"
    photo = session.scalar(sa.select(SitePhoto))
    assert photo.checkin_id == checkin.id and photo.flags == [] and photo.distance_m == 50
    assert photo.taken_at == datetime(2026, 3, 15, 2, 5, tzinfo=UTC)
    assert photo.thumb_state == "pending" and photo.thumb_sha256 is None
    # The page shows a placeholder until the job has run.
    with time_machine.travel(NOW, tick=False):
        assert "缩略图生成中" in builder.get(CHECKIN).get_data(as_text=True)
    session.commit()
    jobs.drain()
    session.expire_all()
    photo = session.get(SitePhoto, photo.id)
    assert photo.thumb_state == "done"
    with time_machine.travel(NOW, tick=False):
        thumb = builder.get(f"/site/photos/{photo.id}/thumb")
        assert thumb.status_code == 200, thumb.headers.get("Location")
        assert thumb.mimetype == "image/jpeg"
        assert builder.get(f"/site/photos/{photo.id}").data == site_photo(TAKEN, north_m=50)
        assert f"/site/photos/{photo.id}/thumb" in builder.get(CHECKIN).get_data(as_text=True)
    image = Image.open(io.BytesIO(thumb.data))
    assert image.size == (64, 48) and len(image.getexif()) == 0  # small photos are not enlarged
    audit = session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "site.checkin"))
    assert audit.username == "builder" and audit.detail["flags"] == []


def test_mismatches_are_flagged_not_refused(app, session, site, people):
    with time_machine.travel(NOW, tick=False):
        builder = signed_in(app, "builder")
        response = post(
            builder,
            [
                ("far.jpg", site_photo(TAKEN, north_m=900)),
                ("old.jpg", site_photo(datetime(2026, 3, 14, 16, 0), north_m=10)),
                ("bare.jpg", jpeg()),
            ],
            latitude=str(SITE_LAT + 1),  # 111 km away
            longitude=str(SITE_LON),
            accuracy="500",
        )
        assert response.status_code == 302
        assert "定位不在项目现场范围内" in builder.get(CHECKIN).get_data(as_text=True)
    checkin = session.scalar(sa.select(SiteCheckin))
    assert checkin.flagged and checkin.distance_m == 111_195
    assert checkin.flags == [
        "low_accuracy",
        "outside_fence",
        "photo_outside_fence",
        "photo_time_mismatch",
        "photo_no_exif",
    ]
    by_name = {p.name: p.flags for p in session.scalars(sa.select(SitePhoto))}
    assert by_name == {
        "far.jpg": ["photo_outside_fence"],
        "old.jpg": ["photo_time_mismatch"],
        "bare.jpg": ["photo_no_exif"],
    }


def test_refused_location_still_checks_in_flagged(app, session, people):
    # No site set either: both are flags.
    with time_machine.travel(NOW, tick=False):
        response = post(signed_in(app, "monitor"), [("a.jpg", site_photo(TAKEN))], latitude="", longitude="")
    assert response.status_code == 302
    checkin = session.scalar(sa.select(SiteCheckin))
    assert checkin.flags == ["no_location", "no_site"] and checkin.latitude is None
    assert checkin.username == "monitor"


def test_no_photo_and_bombs_are_refused_keeping_the_note(app, session, site, people):
    with time_machine.travel(NOW, tick=False):
        builder = signed_in(app, "builder")
        empty = post(builder, [], latitude=str(SITE_LAT), longitude=str(SITE_LON), note="备注一")
        assert empty.status_code == 400
        assert "请至少拍摄或选择一张现场照片" in empty.get_data(as_text=True)
        assert "备注一" in empty.get_data(as_text=True)
        bomb = post(
            builder,
            [("ok.jpg", site_photo(TAKEN)), ("bomb.png", bomb_png(40_000, 40_000))],
            latitude=str(SITE_LAT),
            longitude=str(SITE_LON),
            note="备注二",
        )
    assert bomb.status_code == 400
    html = bomb.get_data(as_text=True)
    assert "照片 bomb.png 像素过多" in html and "备注二" in html
    # Nothing of the refused check-in was kept, not even the good photo.
    assert session.scalar(sa.select(sa.func.count(SiteCheckin.id))) == 0
    assert session.scalar(sa.select(sa.func.count(SitePhoto.id))) == 0


def test_who_may_check_in_and_see_photos(app, session, site, people):
    with time_machine.travel(NOW, tick=False):
        post(
            signed_in(app, "builder"),
            [("a.jpg", site_photo(TAKEN))],
            latitude=str(SITE_LAT),
            longitude=str(SITE_LON),
        )
    photo = session.scalar(sa.select(SitePhoto))
    # The contractor and the supervisor of the contract, and the owner unit, work on the site.
    for username in ("builder", "monitor", "applicant"):
        assert signed_in(app, username).get(CHECKIN).status_code == 200, username
    # A contractor with no contract on the project, and an inspector out of scope: no such project.
    for username in ("stranger", "insp_nb"):
        client = signed_in(app, username)
        assert client.get(f"/projects/{CODE}/site").status_code == 404, username
        assert client.get(f"/projects/{CODE}/site/log").status_code == 404, username
        assert client.get(f"/site/photos/{photo.id}").status_code == 404, username
        assert client.get(f"/site/photos/{photo.id}/thumb").status_code == 404, username
    assert signed_in(app, "stranger").get(CHECKIN).status_code == 404
    assert signed_in(app, "insp_nb").get(CHECKIN).status_code == 403  # no site.checkin at all
    # An inspector sees the feed and the photo but does not check in.
    inspector = signed_in(app, "insp")
    assert inspector.get(CHECKIN).status_code == 403
    assert inspector.get(f"/site/photos/{photo.id}").status_code == 200
    assert signed_in(app, "stranger").post(CHECKIN, data={}).status_code == 404
    assert session.scalar(sa.select(sa.func.count(SiteCheckin.id))) == 1


def test_the_site_index_lists_my_sites(app, session, site, people):
    builder = signed_in(app, "builder").get("/site").get_data(as_text=True)
    assert f'data-site-project="{CODE}"' in builder and f"/projects/{CODE}/site/checkin" in builder
    inspector = signed_in(app, "insp").get("/site").get_data(as_text=True)
    assert f'data-site-project="{CODE}"' in inspector and f"/projects/{CODE}/site/checkin" not in inspector
    assert "/site/feed" in inspector
    assert f'data-site-project="{CODE}"' not in signed_in(app, "stranger").get("/site").get_data(as_text=True)
    assert f'data-site-project="{CODE}"' not in signed_in(app, "insp_nb").get("/site").get_data(as_text=True)
