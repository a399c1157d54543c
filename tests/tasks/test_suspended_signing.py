"""批量签署 (the heads' /sign queue) skips a suspended instance's signature with the reason and
signs the others (processes/project_approval.bpmn, as tests/approvals/test_signing.py)."""

import re

import time_machine

from backend.approvals import signing
from backend.workflow import service as workflow
from backend.workflow.models import HumanTask
from tests.approvals.conftest import deployed, org  # noqa: F401  (fixtures)
from tests.approvals.test_signing import (  # noqa: F401  (people: a fixture)
    MONDAY,
    _sign_task,
    _three_waiting_for_fgw_head,
    _user,
    html,
    people,
)
from tests.tasks.test_views import signed_in


def test_batch_sign_refuses_the_suspended_instance_and_signs_the_others(session, org, deployed):  # noqa: F811
    with time_machine.travel(MONDAY, tick=False):
        flows = _three_waiting_for_fgw_head(session, org)
        ids = [_sign_task(f, "fgw").id for f in flows]
        workflow.suspend_instance(
            session=session, instance_id=flows[1].instance_id, actor="ops", reason="核查"
        )
        session.commit()

        results = signing.batch_sign(session=session, user=_user(session, "fgw_head"), task_ids=ids)
        session.commit()

    assert [r.signed for r in results] == [True, False, True]
    assert results[1].error == "流程实例已挂起, 暂不能办理; 请联系运维人员恢复后再试"
    session.expire_all()
    # Not even claimed: the suspended one waits in the queue, untouched, until resumed.
    refused = session.get(HumanTask, ids[1])
    assert (refused.state, refused.assignee) == ("open", None)
    assert [session.get(HumanTask, t).state for t in (ids[0], ids[2])] == ["completed", "completed"]

    with time_machine.travel(MONDAY, tick=False):
        workflow.resume_instance(session=session, instance_id=flows[1].instance_id, actor="ops")
        session.commit()
        (again,) = signing.batch_sign(session=session, user=_user(session, "fgw_head"), task_ids=[ids[1]])
    assert again.signed


def test_the_sign_queue_shows_the_suspended_one_without_a_way_to_sign_it(
    app,
    session,
    org,  # noqa: F811
    deployed,  # noqa: F811
    people,  # noqa: F811
):
    with time_machine.travel(MONDAY, tick=False):
        flows = _three_waiting_for_fgw_head(session, org)
        ids = [_sign_task(f, "fgw").id for f in flows]
        workflow.suspend_instance(
            session=session, instance_id=flows[0].instance_id, actor="ops", reason="核查"
        )
        session.commit()
        page = html(signed_in(app, "fgw_head").get("/sign"))

    def pick_box(task_id):
        return re.search(rf'<input[^>]*name="task_id" value="{task_id}"[^>]*>', page).group(0)

    suspended, *others = ids
    assert "disabled" in pick_box(suspended) and "data-pick" not in pick_box(suspended)
    assert f'value="{suspended}" data-sign-one' not in page
    assert all("data-pick" in pick_box(i) and f'value="{i}" data-sign-one' in page for i in others)
    # The status says why; the others stay as they were.
    assert page.count("data-suspended") == 1
    block = page.split(f'data-sign-task="{suspended}"')[1].split("data-own-review")[0]
    assert "data-suspended" in block and "流程已挂起" in block
