"""Countersign policies end to end through the engine, for 1, 3 and 7 experts: the host
supplies the running tally that SpiffWorkflow's completionCondition cannot see."""

import pytest
import sqlalchemy as sa

from backend.workflow import service
from backend.workflow.countersign import decide
from backend.workflow.deploy import deploy_files
from backend.workflow.host import host_context, load_run
from backend.workflow.models import HumanTask, ProcessInstance

from .conftest import FORMS_DIR, HERE

TEMPLATE = (HERE / "countersign.bpmn.template").read_text(encoding="utf-8")


def _deploy(session, policy):
    deploy_files(
        session=session,
        files={"countersign.bpmn": TEMPLATE.replace("POLICY", policy)},
        forms_dir=FORMS_DIR,
        deployed_by="test",
    )
    session.commit()


def _run(session, experts, votes):
    """Experts vote in order until the step ends; returns (result, votes cast, tasks cancelled)."""
    instance = service.start_instance(session=session, process_key="countersign", data={"experts": experts})
    session.commit()
    open_tasks = session.scalars(sa.select(HumanTask).filter_by(instance_id=instance.id, state="open")).all()
    assert sorted(t.assignee for t in open_tasks) == sorted(experts)
    assert {t.multi_instance_total for t in open_tasks} == {len(experts)}
    by_expert = {t.assignee: t for t in open_tasks}
    cast = 0
    for expert, approve in zip(experts, votes, strict=True):
        if session.get(ProcessInstance, instance.id).state == "completed":
            break
        service.complete_task(
            session=session,
            task_id=by_expert[expert].id,
            data={"approved": approve, "opinion": "同意" if approve else "不同意"},
            actor=expert,
        )
        session.commit()
        cast += 1
    instance = session.get(ProcessInstance, instance.id)
    assert instance.state == "completed"
    cancelled = session.scalar(
        sa.select(sa.func.count())
        .select_from(HumanTask)
        .filter_by(instance_id=instance.id, state="cancelled")
    )
    still_open = session.scalar(
        sa.select(sa.func.count()).select_from(HumanTask).filter_by(instance_id=instance.id, state="open")
    )
    assert still_open == 0
    return load_run(host_context(session), instance).data["expert_result"], cast, cancelled


CASES = [
    # policy, votes (in order), expected result, votes needed before the step ends
    ("all", [True], "approved", 1),
    ("all", [True, True, True], "approved", 3),
    ("all", [True, False, True], "rejected", 3),  # every opinion is still collected
    ("all", [True] * 7, "approved", 7),
    ("any", [True], "approved", 1),
    ("any", [False, True, True], "rejected", 1),
    ("any", [True] * 7, "approved", 1),
    ("veto", [True], "approved", 1),
    ("veto", [True, False, True], "rejected", 2),  # one veto ends it at once
    ("veto", [True] * 6 + [False], "rejected", 7),
    ("veto", [True] * 7, "approved", 7),
    ("ratio:2/3", [False], "rejected", 1),
    ("ratio:2/3", [True, True, False], "approved", 2),  # 2 of 3 reached: the third is not needed
    ("ratio:2/3", [True, False, False], "rejected", 3),
    ("ratio:2/3", [False, False, False, True, True, True, True], "rejected", 3),  # 5 of 7 out of reach
    ("ratio:2/3", [True, True, False, True, False, True, True], "approved", 7),  # ceil(14/3) = 5 approvals
]


@pytest.mark.parametrize(("policy", "votes", "expected", "needed"), CASES)
def test_countersign_policy(session, deployed, policy, votes, expected, needed):
    _deploy(session, policy)
    experts = [f"expert{i}" for i in range(1, len(votes) + 1)]
    result, cast, cancelled = _run(session, experts, votes)
    assert result == expected
    assert cast == needed
    assert cancelled == len(votes) - needed  # unfinished signers' tasks are closed, not left dangling


def test_decide_rules():
    assert decide("ratio:2/3", approved=4, rejected=1, total=7) is None
    assert decide("ratio:0.5", approved=2, rejected=2, total=4) == "approved"
    assert decide("all", approved=2, rejected=0, total=3) is None
    with pytest.raises(ValueError):
        decide("majority", approved=1, rejected=0, total=1)
