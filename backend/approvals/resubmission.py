"""What the applicant is asked to do when an application comes back: 补正 after intake
returned it (task `supplement`: the numbered 补正事项) or 修改 after a rejected round (task
`revise`: every department's and the experts' opinion of that round), and why the last
resubmission was refused by the process's own check (`resubmission.errors`).

The process already hands all of it to the task: its data holds the application as last
submitted, `return_reasons` and the intake opinion, `review_round` (approval.close_round's
summary) and `resubmission` (projects.resubmit's result). Plain functions; none writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from backend.approvals.service import PROCESS_KEY
from backend.workflow import service as workflow
from backend.workflow.errors import WorkflowError
from backend.workflow.models import HumanTask

APPLICANT_STEPS = ("supplement", "revise")
# Read-only fields of the applicant's forms that the request banner shows in full.
SHOWN_IN_BANNER = ("return_reasons", "review_round", "resubmission")
# Written afresh for every resubmission: never prefilled with the last one's text.
NOT_PREFILLED = ("revision_note",)


@dataclass(frozen=True)
class ApplicantRequest:
    task: HumanTask
    kind: str  # supplement | revise
    return_reasons: list[str] = field(default_factory=list)
    intake_opinion: str = ""
    review_round: dict | None = None
    errors: list[dict] = field(default_factory=list)  # [{field, message}] of the last resubmission
    data: dict = field(default_factory=dict)  # the task's data: the application as last submitted

    @property
    def prefill(self) -> dict[str, Any]:
        """What the form starts with: the application as last submitted (documents included)."""
        return {k: v for k, v in self.data.items() if k not in SHOWN_IN_BANNER + NOT_PREFILLED}


def is_applicant_step(task: HumanTask) -> bool:
    return task.process_key == PROCESS_KEY and task.element_id in APPLICANT_STEPS


def request_of_task(*, session, task: HumanTask) -> ApplicantRequest | None:
    """The request an open 补正/修改 task carries; None for any other task."""
    if task.state != "open" or not is_applicant_step(task):
        return None
    try:
        data = workflow.task_data(session=session, task_id=task.id)
    except WorkflowError:  # completed meanwhile
        return None
    resubmission = data.get("resubmission")
    errors = []
    if isinstance(resubmission, dict) and resubmission.get("valid") is False:
        errors = [
            {"field": e.get("field") or "", "message": e.get("message") or ""}
            for e in resubmission.get("errors") or []
            if isinstance(e, dict) and e.get("message")
        ]
    review_round = data.get("review_round") if task.element_id == "revise" else None
    return ApplicantRequest(
        task=task,
        kind=task.element_id,
        return_reasons=[
            r.strip() for r in data.get("return_reasons") or [] if isinstance(r, str) and r.strip()
        ]
        if task.element_id == "supplement"
        else [],
        intake_opinion=(data.get("opinion") or "").strip()
        if task.element_id == "supplement" and isinstance(data.get("opinion"), str)
        else "",
        review_round=review_round if isinstance(review_round, dict) else None,
        errors=errors,
        data=data,
    )


def open_request(*, session, project_code: str) -> ApplicantRequest | None:
    """The 补正/修改 the application with this 项目代码 is waiting for, if any."""
    task = session.scalar(
        sa.select(HumanTask)
        .where(
            HumanTask.business_key == project_code,
            HumanTask.process_key == PROCESS_KEY,
            HumanTask.element_id.in_(APPLICANT_STEPS),
            HumanTask.state == "open",
        )
        .order_by(HumanTask.created_at.desc())
        .limit(1)
    )
    return request_of_task(session=session, task=task) if task is not None else None


def form_schema(schema: dict) -> dict:
    """The applicant's form without the read-only fields the banner already shows."""
    properties = schema.get("properties") or {}
    if not any(name in properties for name in SHOWN_IN_BANNER):
        return schema
    return {
        **schema,
        "properties": {k: v for k, v in properties.items() if k not in SHOWN_IN_BANNER},
    }
