"""The approval of a project application (项目申报与并联审批): rounds of parallel review,
the opinion of every step with its cycle time, and the 批复 with its yearly number.

Plain keyword-only functions over the session; none commits. The diagram is
processes/project_approval.bpmn; its service tasks call operations.py, which calls these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend.approvals.models import ApprovalDocument, ApprovalNumberCounter, ApprovalOpinion, ApprovalRound
from backend.files import access as file_access
from backend.org import service as org
from backend.org.models import User
from backend.projects import service as projects
from backend.projects.models import Project
from backend.workdays.service import get_calendar
from backend.workflow import registry
from backend.workflow import service as workflow
from backend.workflow.models import HumanTask, ProcessInstance

PROCESS_KEY = "project_approval"
# 浙江省发展和改革委员会's series for approvals; the number reads 浙发改审批〔2026〕12号.
DOCUMENT_PREFIX = "浙发改审批"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Short names as reviewers say them (发改, 财政, ...), and the expert panel.
DEPARTMENT_NAMES = {code: short for code, _name, short in org.DEPARTMENTS} | {"expert": "专家组"}
# User tasks of the diagram carry the property `approvalStage`; it says what an opinion given
# in that task is. Tasks without it are not approval steps and leave no opinion.
STAGES = ("intake", "review", "head", "expert", "applicant")
# A department head's signature of the reviewer's opinion: signed as it is (同意), or
# overruled (不同意: the department's conclusion becomes the head's, the opposite one).
HEAD_DECISIONS = ("signed", "overruled")


class RoundNotOpen(LookupError):
    def __init__(self, project_code: str, instance_id: int):
        self.project_code = project_code
        self.instance_id = instance_id
        super().__init__(f"项目 {project_code} 没有进行中的审批轮次 (流程实例 {instance_id})")


# --- starting ------------------------------------------------------------------------


def submit_application(*, session, data: dict[str, Any], applicant: User) -> ProcessInstance:
    """申报: register the project (raises projects.ApplicationInvalid) and start its approval.

    The process starts with the validated application, so intake never sees an application
    that breaks the rules; the business key is the 项目代码.
    """
    project = projects.create_application(session=session, data=data, applicant=applicant)
    process_data = {
        **projects.normalized_application(data),
        "project_id": project.id,
        "applicant": applicant.username,
    }
    instance = workflow.start_instance(
        session=session,
        process_key=PROCESS_KEY,
        data=process_data,
        business_key=project.code,
        started_by=applicant.username,
    )
    # Everyone who takes part in the approval may read the documents from now on.
    file_access.reference(session=session, instance_id=instance.id, data=process_data)
    return instance


# --- rounds --------------------------------------------------------------------------


def open_round(*, session, project: Project, instance_id: int, now: datetime) -> ApprovalRound:
    """The next round of parallel review; round numbers run on across resubmissions."""
    last = (
        session.scalar(sa.select(sa.func.max(ApprovalRound.round_no)).filter_by(project_id=project.id)) or 0
    )
    approval_round = ApprovalRound(
        project_id=project.id, instance_id=instance_id, round_no=last + 1, started_at=now, summary={}
    )
    session.add(approval_round)
    session.flush()
    return approval_round


def close_round(
    *,
    session,
    project: Project,
    instance_id: int,
    round_results: dict[str, dict],
    expert_votes: list[dict],
    now: datetime,
) -> ApprovalRound:
    """End the open round with every branch's decision (`round_results`: department code or
    "expert" -> {"approved", "opinion"}): approved only if every branch approved. The summary
    is what the applicant sees when revising."""
    approval_round = session.scalar(
        sa.select(ApprovalRound)
        .filter_by(project_id=project.id, instance_id=instance_id, ended_at=None)
        .order_by(ApprovalRound.round_no.desc())
        .limit(1)
    )
    if approval_round is None:
        raise RoundNotOpen(project.code, instance_id)
    signatures = _head_signatures(session, approval_round.id)
    opinions = []
    for branch, result in round_results.items():
        result = result if isinstance(result, dict) else {}
        opinion = {
            "department": branch,
            "department_name": DEPARTMENT_NAMES.get(branch, branch),
            "decision": "approved" if result.get("approved") is True else "rejected",
            "opinion": _opinion_text(result.get("opinion")),
        }
        if branch in signatures:
            opinion.update(signatures[branch])
        if branch == "expert":
            # Experts sign individually; the applicant sees their opinions, not their names.
            opinion["votes"] = [
                {
                    "decision": "approved" if v.get("approved") is True else "rejected",
                    "opinion": _opinion_text(v.get("opinion")),
                }
                for v in expert_votes or []
                if isinstance(v, dict)
            ]
        opinions.append(opinion)
    opinions.sort(
        key=lambda o: (
            list(DEPARTMENT_NAMES).index(o["department"])
            if o["department"] in DEPARTMENT_NAMES
            else len(DEPARTMENT_NAMES)
        )
    )
    outcome = "approved" if opinions and all(o["decision"] == "approved" for o in opinions) else "rejected"
    approval_round.ended_at = now
    approval_round.outcome = outcome
    approval_round.summary = {
        "round_no": approval_round.round_no,
        "outcome": outcome,
        "rejected_by": [o["department_name"] for o in opinions if o["decision"] != "approved"],
        "opinions": opinions,
    }
    session.flush()
    return approval_round


def _head_signatures(session, round_id: int) -> dict[str, dict]:
    """Who signed each department's conclusion in this round, and when (the last signature
    of a department counts: a withdrawn and re-given one replaces the first)."""
    rows = session.execute(
        sa.select(
            ApprovalOpinion.department,
            ApprovalOpinion.reviewer,
            ApprovalOpinion.decided_at,
            User.display_name,
        )
        .outerjoin(User, User.username == ApprovalOpinion.reviewer)
        .where(ApprovalOpinion.round_id == round_id, ApprovalOpinion.decision.in_(HEAD_DECISIONS))
        .order_by(ApprovalOpinion.decided_at, ApprovalOpinion.id)
    ).all()
    return {
        department: {"signed_by": name or username or "", "signed_at": decided_at.isoformat()}
        for department, username, decided_at, name in rows
    }


def rounds_of_project(*, session, project_id: int) -> list[ApprovalRound]:
    return list(
        session.scalars(
            sa.select(ApprovalRound).filter_by(project_id=project_id).order_by(ApprovalRound.round_no)
        )
    )


# --- opinions ------------------------------------------------------------------------


def record_opinion_of_task(*, session, task: HumanTask, data: dict[str, Any]) -> ApprovalOpinion | None:
    """The opinion given in a completed approval task, from its inbox row (who, when, due,
    escalated) and its form data (decision, opinion). Once per completion (a returned step is
    completed again under the same task id); None for tasks that are
    not approval steps or whose project is unknown.

    Cycle time: `working_days_used` counts the working days after the task arrived up to the
    day it was decided (the way 办理时限 are counted); `overdue` when it was escalated or
    decided after its due time.
    """
    stage = (task.properties or {}).get("approvalStage")
    if stage not in STAGES or task.state != "completed":
        return None
    existing = session.scalar(
        sa.select(ApprovalOpinion).filter_by(task_id=task.id, decided_at=task.completed_at)
    )
    if existing is not None:
        return existing
    project = session.scalar(sa.select(Project).filter_by(code=task.business_key))
    if project is None:
        return None
    decided_at = task.completed_at
    opinion = ApprovalOpinion(
        round_id=_round_of(session, project, task, stage),
        project_id=project.id,
        task_id=task.id,
        step=task.element_id,
        department=(task.properties or {}).get("department"),
        reviewer=task.completed_by,
        decision=_decision(stage, task.outcome),
        opinion=_opinion_of(stage, task.outcome, data),
        started_at=task.created_at,
        decided_at=decided_at,
        due_at=task.due_at,
        working_days_used=get_calendar(session=session).working_days_between(task.created_at, decided_at),
        overdue=task.escalated_at is not None or (task.due_at is not None and decided_at > task.due_at),
    )
    session.add(opinion)
    return opinion


def opinions_of_project(*, session, project_id: int) -> list[ApprovalOpinion]:
    """Every opinion of every round, in the order they were given."""
    return list(
        session.scalars(
            sa.select(ApprovalOpinion)
            .filter_by(project_id=project_id)
            .order_by(ApprovalOpinion.decided_at, ApprovalOpinion.id)
        )
    )


def _round_of(session, project: Project, task: HumanTask, stage: str) -> int | None:
    rounds = sa.select(ApprovalRound.id).filter_by(project_id=project.id, instance_id=task.instance_id)
    if stage in ("review", "head", "expert"):
        # Decided while its round was open (or by the decision that closed it).
        return session.scalar(rounds.order_by(ApprovalRound.round_no.desc()).limit(1))
    if stage == "applicant":
        # A revision answers the round that ended before it; a supplement before any round has none.
        return session.scalar(
            rounds.where(ApprovalRound.ended_at.is_not(None)).order_by(ApprovalRound.round_no.desc()).limit(1)
        )
    return None  # intake comes before the rounds


def _decision(stage: str, outcome: str | None) -> str:
    if stage == "intake":
        return "accepted" if outcome == "approved" else "returned"
    if stage == "applicant":
        return "resubmitted"
    if stage == "head":
        return "signed" if outcome == "approved" else "overruled"
    return outcome or "rejected"


def _opinion_of(stage: str, outcome: str | None, data: dict[str, Any]) -> str:
    if stage == "applicant":
        return _opinion_text(data.get("revision_note"))
    if stage == "head":
        return _opinion_text(data.get("head_opinion"))
    text = _opinion_text(data.get("opinion"))
    if stage == "intake" and outcome != "approved":
        reasons = [r.strip() for r in data.get("return_reasons") or [] if isinstance(r, str) and r.strip()]
        return "；".join(filter(None, ["；".join(reasons), text]))
    return text


def _opinion_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- the 批复 ------------------------------------------------------------------------


def issue_document(
    *, session, project: Project, now: datetime, prefix: str = DOCUMENT_PREFIX
) -> ApprovalDocument:
    """Issue the 批复 with the next number of the year (Asia/Shanghai); a project gets one."""
    existing = session.scalar(sa.select(ApprovalDocument).filter_by(project_id=project.id))
    if existing is not None:
        return existing
    year = now.astimezone(SHANGHAI).year
    seq = allocate_document_seq(session=session, year=year)
    rounds = rounds_of_project(session=session, project_id=project.id)
    document = ApprovalDocument(
        project_id=project.id,
        year=year,
        seq=seq,
        number=f"{prefix}〔{year}〕{seq}号",
        title=f"关于{project.name}的批复",
        approved_budget=project.total_investment,
        content={
            "project_code": project.code,
            "project_name": project.name,
            "owner_unit": project.owner_unit.name,
            "region_code": project.region_code,
            "nature": projects.NATURES.get(project.nature, project.nature),
            "total_investment": str(project.total_investment),
            "funding_sources": list(project.funding_sources or []),
            "planned_start": project.planned_start.isoformat(),
            "planned_end": project.planned_end.isoformat(),
            "scale_content": project.scale_content,
            "rounds": len(rounds),
            "opinions": rounds[-1].summary.get("opinions", []) if rounds else [],
        },
        issued_at=now,
    )
    session.add(document)
    session.flush()
    registry.domain_event(session=session, kind="approval.issued", data=_issued_event(document, project))
    return document


def _issued_event(document: ApprovalDocument, project: Project) -> dict:
    return {
        "document_number": document.number,
        "title": document.title,
        "project_code": project.code,
        "project_name": project.name,
        "approved_budget": str(document.approved_budget),
        "issued_at": document.issued_at.isoformat(),
    }


def allocate_document_seq(*, session, year: int) -> int:
    """The next 批复 number of `year`. The counter row is created once per year and then
    incremented with UPDATE ... RETURNING, which holds its row lock until commit: two
    approvals at the same moment get consecutive numbers, never the same one. (SQLite
    serializes writers anyway: units of work begin with BEGIN IMMEDIATE.)"""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(ApprovalNumberCounter)
        .values(year=year, last_seq=0)
        .on_conflict_do_nothing(index_elements=[ApprovalNumberCounter.year])
    )
    return session.execute(
        sa.update(ApprovalNumberCounter)
        .where(ApprovalNumberCounter.year == year)
        .values(last_seq=ApprovalNumberCounter.last_seq + 1)
        .returning(ApprovalNumberCounter.last_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
