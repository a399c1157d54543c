"""/projects/<code>/publication: who may manage, the audited switch, photo upload, moderation,
and the printable site board."""

import sqlalchemy as sa

from backend.audit.models import AuditRecord
from backend.publicpage import service
from backend.publicpage.models import PublicFeedback, PublicPhoto
from tests.api.conftest import Client, signed_in

from .conftest import CODE, add_user, photo_with_gps

PAGE = f"/projects/{CODE}/publication"


def audited(session, action: str) -> list[AuditRecord]:
    session.expire_all()
    return list(session.scalars(sa.select(AuditRecord).where(AuditRecord.action == action)))


def test_who_may_manage(app, session, org, world):
    add_user(session, "window", roles=["window"], region_code="330000")
    add_user(session, "window_nb", roles=["window"], region_code="330200")
    add_user(session, "owner2", roles=["owner"], unit_id=org.other_unit.id, region_code="330000")
    add_user(session, "reviewer", roles=["reviewer"], region_code="330000")
    assert signed_in(app, "applicant").get(PAGE).status_code == 200  # the owner unit
    assert signed_in(app, "window").get(PAGE).status_code == 200  # 受理窗口 in scope
    assert signed_in(app, "window_nb").get(PAGE).status_code == 404  # out of scope
    assert signed_in(app, "owner2").get(PAGE).status_code == 403  # another unit
    assert signed_in(app, "reviewer").get(PAGE).status_code == 403  # no publication.manage
    assert Client(app, app.response_class).get(PAGE).status_code == 302  # sign in first
    assert signed_in(app, "owner2").post(f"{PAGE}/switch", data={"enabled": "0"}).status_code == 403
    assert service.is_enabled(session=session, project_id=world.project.id)


def test_switch_is_audited_and_takes_effect(app, session, world):
    owner = signed_in(app, "applicant")
    public = Client(app, app.response_class)
    assert 'data-enabled="on"' in owner.get(PAGE).get_data(as_text=True)
    assert public.get(f"/p/{CODE}").status_code == 200
    assert owner.post(f"{PAGE}/switch", data={"enabled": "0"}).status_code == 302
    assert public.get(f"/p/{CODE}").status_code == 404
    assert 'data-enabled="off"' in owner.get(PAGE).get_data(as_text=True)
    assert owner.post(f"{PAGE}/switch", data={"enabled": "1"}).status_code == 302
    assert public.get(f"/p/{CODE}").status_code == 200
    records = audited(session, "publication.switch")
    assert [(r.username, r.detail["enabled"], r.object_id) for r in records] == [
        ("applicant", False, CODE),
        ("applicant", True, CODE),
    ]


def test_upload_edit_and_unpublish_photos(app, session, world):
    owner = signed_in(app, "applicant")
    sent = owner.post(
        f"{PAGE}/photos",
        data={"photo": (__import__("io").BytesIO(photo_with_gps()), "IMG_1.jpg"), "caption": "主体施工"},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)
    photo = session.scalar(sa.select(PublicPhoto))
    assert photo.caption == "主体施工" and photo.published
    assert owner.get(f"{PAGE}/photos/{photo.id}.jpg").status_code == 200
    page = owner.get(PAGE).get_data(as_text=True)
    assert f'data-photo="{photo.id}"' in page
    assert (
        owner.post(f"{PAGE}/photos/{photo.id}", data={"caption": "封顶", "position": "5"}).status_code == 302
    )
    assert owner.post(f"{PAGE}/photos/{photo.id}", data={"published": "0"}).status_code == 302
    session.expire_all()
    photo = session.get(PublicPhoto, photo.id)
    assert (photo.caption, photo.position, photo.published) == ("封顶", 5, False)
    assert [
        len(audited(session, a))
        for a in ("publication.photo_publish", "publication.photo_edit", "publication.photo_unpublish")
    ] == [1, 1, 1]
    bad = owner.post(
        f"{PAGE}/photos",
        data={"photo": (__import__("io").BytesIO(b"not an image at all"), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400
    assert owner.post(f"{PAGE}/photos", data={}, content_type="multipart/form-data").status_code == 400


def test_moderation_queue(app, session, world):
    keep = service.submit_feedback(
        session=session, project=world.project, rating=5, comment="很好", address_hash="a" * 64
    )
    drop = service.submit_feedback(
        session=session, project=world.project, rating=1, comment="广告内容", address_hash="b" * 64
    )
    session.commit()
    owner = signed_in(app, "applicant")
    page = owner.get(PAGE).get_data(as_text=True)
    assert "很好" in page and "广告内容" in page and "待审核评价 (2)" in page
    no_reason = owner.post(f"{PAGE}/feedback/{drop.id}", data={"decision": "reject"})
    assert no_reason.status_code == 400 and "驳回须填写原因" in no_reason.get_data(as_text=True)
    assert (
        owner.post(f"{PAGE}/feedback/{drop.id}", data={"decision": "reject", "reason": "广告"}).status_code
        == 302
    )
    assert owner.post(f"{PAGE}/feedback/{keep.id}", data={"decision": "approve"}).status_code == 302
    again = owner.post(f"{PAGE}/feedback/{keep.id}", data={"decision": "reject", "reason": "x"})
    assert again.status_code == 400  # already moderated
    session.expire_all()
    assert session.get(PublicFeedback, keep.id).status == "approved"
    rejected = session.get(PublicFeedback, drop.id)
    assert (rejected.status, rejected.reject_reason, rejected.moderated_by) == (
        "rejected",
        "广告",
        "applicant",
    )
    assert len(audited(session, "publication.feedback_approve")) == 1
    assert [r.detail for r in audited(session, "publication.feedback_reject")] == [{"reason": "广告"}]
    html = Client(app, app.response_class).get(f"/p/{CODE}").get_data(as_text=True)
    assert "很好" in html and "广告内容" not in html


def test_print_board(app, session, world):
    owner = signed_in(app, "applicant")
    board = owner.get(f"{PAGE}/board")
    html = board.get_data(as_text=True)
    assert board.status_code == 200
    url = f"{app.config['PUBLIC_BASE_URL'].rstrip('/')}/p/{CODE}"
    assert f"data-url>{url}<" in html
    assert "<svg" in html and "viewBox" in html
    assert "西湖区文三路综合管廊工程" in html
    assert "打印现场公示牌" in owner.get(PAGE).get_data(as_text=True)


def test_site_photos_can_be_published_without_their_exif(app, session, world):
    from PIL import Image

    from backend.files import service as files
    from backend.site.models import SitePhoto

    data = photo_with_gps()
    stored = files.store(session=session, data=data, declared_name="IMG_1.jpg", allowed_types=None)
    row = SitePhoto(
        project_id=world.project.id,
        sha256=stored.sha256,
        name="IMG_1.jpg",
        width=640,
        height=480,
        uploaded_by="applicant",
    )
    session.add(row)
    session.commit()
    assert [c.id for c in service.candidate_photos(session=session, project_id=world.project.id)] == [row.id]

    owner = signed_in(app, "applicant")
    page = owner.get(PAGE).get_data(as_text=True)
    assert "data-site-candidates" in page
    assert owner.get(f"{PAGE}/site-photos/{row.id}.jpg").data == data  # no thumbnail yet: the original
    response = owner.post(f"{PAGE}/site-photos", data={"site_photo_id": row.id, "caption": "基坑开挖"})
    assert response.status_code == 302
    session.expire_all()
    published = session.scalars(
        sa.select(PublicPhoto).where(PublicPhoto.project_id == world.project.id)
    ).one()
    assert published.original_sha256 == stored.sha256 and published.caption == "基坑开挖"
    with files.open_file(sha256=published.published_sha256) as stream, Image.open(stream) as image:
        assert not image.getexif()  # no GPS or time reaches the public page
    # Chosen once: it leaves the candidates; another project's photo id is refused.
    assert service.candidate_photos(session=session, project_id=world.project.id) == []
    assert owner.post(f"{PAGE}/site-photos", data={"site_photo_id": 999999}).status_code == 400
    assert owner.get(f"{PAGE}/site-photos/999999.jpg").status_code == 404
