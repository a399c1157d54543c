"""The suspension and the refusals it causes, on English pages: the task page's banner and
refused operations, and the cockpit's action errors (backend/workflow/errors.py is lazy)."""

from html import unescape

from flask import g
from flask.testing import FlaskClient

from backend.workflow.errors import InstanceSuspended

from ..helpers import login
from .test_views import PASSWORD, flow, open_task, person, submit  # noqa: F401  (fixture)


class Client(FlaskClient):
    """Forget the person and the language cached on `g` of the shared app context."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)
        return super().open(*args, **kwargs)


def english(app, username):
    client = Client(app, app.response_class, use_cookies=True)
    assert login.sign_in(client, username, PASSWORD).status_code == 302
    client.get("/lang/en")
    return client


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def test_suspension_and_its_refusals_in_english(app, session, world, flow):  # noqa: F811
    person(world, "ops", roles=("operator",))
    session.commit()
    submit(app, session, flow)
    review = open_task(session, flow, "review")
    ops = english(app, "ops")

    suspended = ops.post(
        f"/cockpit/instances/{flow.id}/suspend", data={"reason": "check"}, follow_redirects=True
    )
    assert suspended.status_code == 200
    again = text(
        ops.post(f"/cockpit/instances/{flow.id}/suspend", data={"reason": "x"}, follow_redirects=True)
    )
    assert "The process instance is suspended; this action is not possible" in again
    assert "流程实例当前状态" not in again

    li = english(app, "li")
    page = text(li.get(f"/tasks/{review.id}"))
    assert 'id="instance-suspended"' in page and "Process suspended" in page and "流程已挂起" not in page
    refused = text(li.post(f"/tasks/{review.id}/claim", follow_redirects=True))
    assert "The process instance is suspended and cannot be worked on" in refused

    resumed = text(
        ops.post(f"/cockpit/instances/{flow.id}/resume", data={"reason": ""}, follow_redirects=True)
    )
    not_suspended = text(
        ops.post(f"/cockpit/instances/{flow.id}/resume", data={"reason": ""}, follow_redirects=True)
    )
    assert "流程实例" not in resumed
    assert "The process instance is running; this action is not possible" in not_suspended


def test_the_refusal_stays_chinese_outside_a_request():
    assert str(InstanceSuspended(7)) == "流程实例已挂起, 暂不能办理; 请联系运维人员恢复后再试"
