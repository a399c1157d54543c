"""加签 through the task page: add, see, sign, remove."""

import shutil

import sqlalchemy as sa

from backend.config import ROOT
from backend.workflow.models import HumanTask

from .test_views import flow, html, open_task, person, signed_in, submit  # noqa: F401  (fixture)


def _claimed_review(app, session, world, flow, tmp_path):  # noqa: F811
    shutil.copy(ROOT / "forms" / "task_add_sign.json", tmp_path / "task_add_sign.json")
    person(world, "zhao", department=world.fgw)
    session.commit()
    submit(app, session, flow)
    review = open_task(session, flow, "review")
    li = signed_in(app, "li")
    li.post(f"/tasks/{review.id}/claim")
    return review, li


def test_before_signer_signs_on_the_page_then_the_holder_completes(app, session, world, flow, tmp_path):  # noqa: F811
    review, li = _claimed_review(app, session, world, flow, tmp_path)
    page = html(li.get(f"/tasks/{review.id}"))
    assert 'id="op-add-sign"' in page and "data-people-picker" in page

    response = li.post(
        f"/tasks/{review.id}/add-sign", data={"position": "before", "to": "wang，zhao", "reason": "请会签"}
    )
    assert response.status_code == 302
    page = html(li.get(f"/tasks/{review.id}"))
    assert 'id="signers-pending"' in page and 'data-signer="wang"' in page and 'data-signer="zhao"' in page
    # The holder's form is not offered while signers are pending; a direct post is refused.
    assert "保存草稿" not in page
    refused = li.post(
        f"/tasks/{review.id}", data={"approved": "true", "opinion": "同意通过"}, follow_redirects=True
    )
    assert "尚未签署" in html(refused)

    session.expire_all()
    wang_row, zhao_row = session.scalars(
        sa.select(HumanTask).filter_by(parent_task_id=review.id).order_by(HumanTask.assignee)
    ).all()
    wang = signed_in(app, "wang")
    signer_page = html(wang.get(f"/tasks/{wang_row.id}"))
    assert 'id="add-sign-request"' in signer_page and "加签意见" in signer_page
    # Without a reason, a disagreement is refused next to the field, input kept.
    bad = wang.post(f"/tasks/{wang_row.id}", data={"approved": "false", "opinion": ""})
    assert bad.status_code == 422
    # Signers cannot do anything else with their step.
    transfer = wang.post(
        f"/tasks/{wang_row.id}/transfer", data={"to": "zhao", "reason": "x"}, follow_redirects=True
    )
    assert "这是加签任务, 只能签署意见" in html(transfer)
    ok = wang.post(f"/tasks/{wang_row.id}", data={"approved": "false", "opinion": "投资偏高"})
    assert ok.status_code == 302
    li.post(f"/tasks/{review.id}/signers/{zhao_row.id}/remove", data={"reason": "不必了"})
    page = html(li.get(f"/tasks/{review.id}"))
    assert "投资偏高" in page  # wang's signature is in the history
    done = li.post(f"/tasks/{review.id}", data={"approved": "true", "opinion": "同意通过"})
    assert done.status_code == 302 and done.location.endswith("/inbox")
    assert open_task(session, flow, "approve") is not None


def test_after_signer_confirms_the_held_decision(app, session, world, flow, tmp_path):  # noqa: F811
    review, li = _claimed_review(app, session, world, flow, tmp_path)
    li.post(f"/tasks/{review.id}/add-sign", data={"position": "after", "to": "wang", "reason": "请复核"})
    held = li.post(
        f"/tasks/{review.id}", data={"approved": "true", "opinion": "同意通过"}, follow_redirects=True
    )
    assert "待后加签人签署" in html(held)
    page = html(li.get(f"/tasks/{review.id}"))
    assert 'id="decision-held"' in page
    assert open_task(session, flow, "approve") is None

    session.expire_all()
    row = session.scalar(sa.select(HumanTask).filter_by(parent_task_id=review.id))
    wang = signed_in(app, "wang")
    signer_page = html(wang.get(f"/tasks/{row.id}"))
    assert "办理人的决定" in signer_page and "同意通过" in signer_page
    wang.post(f"/tasks/{row.id}", data={"approved": "true", "opinion": ""})
    assert open_task(session, flow, "approve") is not None
    assert session.get(HumanTask, review.id).completed_by == "li"
