"""A sensitive value entered in a process form is masked where the finished step is shown,
and the project row holds only its SM4 token."""

import sqlalchemy as sa

from backend.accounts.service import set_password
from backend.org.models import User
from backend.workflow import service as workflow
from backend.workflow.models import HumanTask
from tests.approvals.conftest import deployed, flow, org  # noqa: F401  (fixtures)
from tests.projects.factories import application
from tests.tasks.test_views import PASSWORD, signed_in

PHONE = "13812345678"


def test_phone_of_a_finished_supplement_is_masked_on_the_task_page(app, session, flow):  # noqa: F811
    for name in ("applicant", "fgw_window"):
        user = session.scalar(sa.select(User).filter_by(username=name))
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    flow.submit()
    flow.complete(
        "intake", {"accepted": False, "return_reasons": ["缺少用地预审意见"], "opinion": "补正"}, "fgw_window"
    )
    supplement = flow.task("supplement")
    workflow.complete_task(
        session=session,
        task_id=supplement.id,
        data=application(flow.org, contact_phone=PHONE),
        actor="applicant",
    )
    session.commit()
    stored = session.execute(sa.text("SELECT contact_phone FROM project")).scalar_one()
    assert stored.startswith("sm4:") and PHONE not in stored

    for viewer in ("applicant", "fgw_window"):
        page = signed_in(app, viewer).get(f"/tasks/{supplement.id}")
        assert page.status_code == 200, (viewer, page.status_code)
        text = page.get_data(as_text=True)
        assert "138****5678" in text, viewer
        assert PHONE not in text, viewer
    assert session.get(HumanTask, supplement.id).state == "completed"
