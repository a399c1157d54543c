"""Business actions reach the audit log through the hooks, in the causing transaction."""

import sqlalchemy as sa

from backend.audit import service
from backend.audit.models import AuditRecord
from backend.tasks.models import TaskAction
from backend.webhooks.models import WebhookSubscription
from backend.workflow import registry
from backend.workflow import service as workflow
from backend.workflow.models import HumanTask


def _actions(session):
    return [
        (r.action, r.username, r.object_type)
        for r in session.scalars(sa.select(AuditRecord).order_by(AuditRecord.leaf_index))
    ]


def _open(session, instance_id):
    return session.scalars(sa.select(HumanTask).filter_by(instance_id=instance_id, state="open")).one()


def test_deploy_start_complete_return_are_recorded(session, people, three_steps):
    assert ("deploy", "designer1", "process_definition") in _actions(session)
    instance = workflow.start_instance(
        session=session, process_key="three_steps", data={"applicant": "reviewer"}, started_by="reviewer"
    )
    session.commit()
    submit = _open(session, instance.id)
    workflow.complete_task(session=session, task_id=submit.id, data={"approved": True}, actor="reviewer")
    session.commit()
    review = _open(session, instance.id)
    workflow.complete_task(session=session, task_id=review.id, data={"approved": False}, actor="auditor")
    session.commit()
    approve = _open(session, instance.id)
    workflow.return_task(
        session=session, task_id=approve.id, to_task_id=review.id, actor="sysadm", reason="补充材料"
    )
    session.commit()

    actions = _actions(session)
    assert ("process.start", "reviewer", "process_instance") in actions
    completions = session.scalars(sa.select(AuditRecord).filter_by(action="task.complete")).all()
    assert [(r.username, r.object_id, r.detail["outcome"]) for r in completions] == [
        ("reviewer", submit.id, "approved"),
        ("auditor", review.id, "rejected"),
    ]
    assert completions[0].user_id == people["reviewer"].id
    assert completions[0].detail["process_key"] == "three_steps"
    assert "data" not in completions[0].detail  # form data stays out of the log
    returned = session.scalars(sa.select(AuditRecord).filter_by(action="task.return")).one()
    assert returned.username == "sysadm" and returned.object_id == approve.id
    assert service.verify(session=session).ok


def test_rolled_back_completion_leaves_no_record(session, people, three_steps):
    instance = workflow.start_instance(
        session=session, process_key="three_steps", data={"applicant": "reviewer"}
    )
    session.commit()
    submit = _open(session, instance.id)
    before = len(_actions(session))
    workflow.complete_task(session=session, task_id=submit.id, data={"approved": True}, actor="reviewer")
    session.rollback()
    assert len(_actions(session)) == before
    assert service.verify(session=session).ok


def test_task_actions_recorded(session, people, three_steps):
    instance = workflow.start_instance(
        session=session, process_key="three_steps", data={"applicant": "reviewer"}
    )
    session.commit()
    task = _open(session, instance.id)
    session.add(
        TaskAction(
            task_id=task.id,
            instance_id=instance.id,
            action="transfer",
            actor="reviewer",
            target_user="auditor",
            reason="出差",
        )
    )
    session.commit()
    row = session.scalars(sa.select(AuditRecord).filter_by(action="task.transfer")).one()
    assert (row.username, row.object_id, row.detail["target_user"]) == ("reviewer", task.id, "auditor")


def test_domain_events_recorded(session):
    registry.domain_event(
        session=session, kind="payment.released", data={"payment_number": "ZF-2026-001", "amount": "100.00"}
    )
    registry.domain_event(
        session=session, kind="approval.issued", data={"document_number": "浙发改批〔2026〕1号"}
    )
    registry.domain_event(session=session, kind="ticket.overdue", data={"number": "x"})
    session.commit()
    rows = session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id)).all()
    assert [(r.action, r.object_id) for r in rows] == [
        ("payment.release", "ZF-2026-001"),
        ("approval.issue", "浙发改批〔2026〕1号"),
    ]


def test_configuration_changes_recorded_without_secrets(session):
    sub = WebhookSubscription(
        url="https://example.gov.cn/hook", secret="s3cret-value", event_types=["task.completed"]
    )
    session.add(sub)
    session.commit()
    sub.enabled = False
    sub.secret = "rotated-secret"
    session.commit()
    session.delete(sub)
    session.commit()
    rows = session.scalars(
        sa.select(AuditRecord).filter_by(action="config.change").order_by(AuditRecord.id)
    ).all()
    assert [r.detail["op"] for r in rows] == ["create", "update", "delete"]
    assert rows[1].detail["secret_changed"] is True and "enabled" in rows[1].detail["fields"]
    assert all(r.object_type == "webhook_subscription" for r in rows)
    text = " ".join(service.canonical_bytes(r).decode() for r in rows)
    assert "s3cret" not in text and "rotated-secret" not in text
