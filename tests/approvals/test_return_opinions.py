"""退回 reopens an earlier step under the same engine task id; the opinion given the second
time is a new opinion, not lost behind the first one."""

import sqlalchemy as sa

from backend.approvals import service as approvals
from backend.workflow import service as workflow
from backend.workflow.models import HumanTask


def test_a_step_returned_to_and_decided_again_keeps_both_opinions(flow, session):
    flow.submit()
    flow.accept()
    flow.review("cz", opinion="同意, 资金来源已落实", sign=False)
    head_task = flow.task("sign_cz")
    review_task_id = session.scalar(
        sa.select(HumanTask.id).filter_by(instance_id=flow.instance_id, element_id="review_cz")
    )
    workflow.return_task(
        session=session,
        task_id=head_task.id,
        to_task_id=review_task_id,
        actor="cz_head",
        reason="请核实专项债额度",
    )
    session.commit()
    assert flow.task("review_cz").id == review_task_id  # the same engine task, reopened

    flow.review("cz", approved=False, opinion="专项债额度未落实")
    project_id = _project_id(session, flow)
    cz = [
        (o.step, o.decision, o.opinion)
        for o in approvals.opinions_of_project(session=session, project_id=project_id)
        if o.department == "cz"
    ]
    assert cz[:2] == [
        ("review_cz", "approved", "同意, 资金来源已落实"),
        ("review_cz", "rejected", "专项债额度未落实"),
    ]
    assert [(step, decision) for step, decision, _ in cz[2:]] == [("sign_cz", "signed")]


def _project_id(session, flow) -> int:
    from backend.projects.models import Project

    return session.scalar(sa.select(Project.id).filter_by(code=flow.instance.business_key))
