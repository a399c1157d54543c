"""会签签署: a department head signs what the department's reviewer decided.

Each department branch of the parallel review ends with the head's signature (the user task
with the form `approval_head_sign.json`, candidate group `<department>.head`). The head's
queue shows the open signatures of their department with the opinions given in the round so
far; agreeing (同意) can be done for many at once, each in its own savepoint so that one
refused item (handled meanwhile by another head, withdrawn, waiting for 加签) leaves the
others signed. Disagreeing needs an opinion and is done on the task page.

Keyword-only functions over the session; they flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from backend.approvals.models import ApprovalOpinion, ApprovalRound
from backend.approvals.service import DEPARTMENT_NAMES, HEAD_DECISIONS
from backend.db import utcnow
from backend.forms import store as form_store
from backend.forms.errors import FormError
from backend.forms.validate import validate
from backend.org.models import User
from backend.projects.models import Project
from backend.tasks import add_sign
from backend.tasks import service as tasks
from backend.tasks.errors import TaskActionError
from backend.workdays.service import get_calendar
from backend.workflow.errors import WorkflowError
from backend.workflow.models import HumanTask, ProcessInstance

HEAD_SIGN_FORM = "approval_head_sign.json"
REVIEW_DECISIONS = ("approved", "rejected")


class SignRemarkInvalid(ValueError):
    """The common remark of a batch signature does not fit the form (e.g. too long)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# --- who signs -------------------------------------------------------------------------------


def head_groups(user: User) -> list[str]:
    """The `<department>.head` groups of a person: the departments whose opinions they sign."""
    return sorted(g for g in user.groups if g.endswith(".head") and "." in g and not g.startswith("unit."))


def is_head(user: User) -> bool:
    return bool(head_groups(user))


def _in_queue(user: User, session=None):
    """Open signatures of my departments: claimed by me, or unclaimed in my head group, within
    my data scope (a city head of a provincial department signs for their city)."""
    from backend.authz.scope import scope_of, task_clause

    return sa.and_(
        task_clause(scope_of(user, session=session)),
        HumanTask.state == "open",
        HumanTask.form == HEAD_SIGN_FORM,
        HumanTask.parent_task_id.is_(None),
        HumanTask.candidate_group.in_(head_groups(user) or [""]),
        sa.or_(HumanTask.assignee.is_(None), HumanTask.assignee == user.username),
    )


def queue_count(*, session, user: User) -> int:
    """How many signatures wait for me (the 待签署 badge); 0 for someone who heads nothing."""
    if not is_head(user):
        return 0
    return (
        session.scalar(sa.select(sa.func.count()).select_from(HumanTask).where(_in_queue(user, session))) or 0
    )


# --- the queue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BranchOpinion:
    """One branch's word in the round so far: a department's conclusion (its reviewer's, as
    its head signed or overruled it, or still unsigned) or one expert's vote."""

    department: str  # department code, or "expert"
    department_name: str
    decision: str  # approved | rejected
    opinion: str
    by: str  # the reviewer's name ("" for experts: their opinions go without names)
    at: datetime
    signed_by: str | None = None  # the head who signed; None while unsigned (and for experts)
    overruled: bool = False  # the head disagreed: decision and opinion are the head's


@dataclass(frozen=True)
class SignItem:
    task: HumanTask
    project: Project | None
    round_no: int | None
    review: BranchOpinion | None  # what my department's reviewer decided: what I sign
    others: list[BranchOpinion]  # the other departments and the experts, as far as given
    days_left: int | None  # working days; negative when overdue
    overdue: bool
    suspended: bool = False  # 挂起 by an operator: shown, but cannot be signed until resumed


def sign_queue(*, session, user: User, now: datetime | None = None) -> list[SignItem]:
    """My open signatures, soonest due first, each with the branch opinions of its round.
    A bounded number of queries whatever the length of the queue."""
    if not is_head(user):
        return []
    now = now or utcnow()
    found = list(
        session.scalars(
            sa.select(HumanTask)
            .where(_in_queue(user, session))
            .order_by(
                sa.case((HumanTask.due_at.is_(None), 1), else_=0),
                HumanTask.due_at,
                HumanTask.created_at,
                HumanTask.id,
            )
        )
    )
    if not found:
        return []
    codes = {t.business_key for t in found if t.business_key}
    projects = {
        p.code: p
        for p in session.scalars(
            sa.select(Project)
            .where(Project.code.in_(codes))
            .options(selectinload(Project.region), selectinload(Project.owner_unit))
        )
    }
    rounds = _open_rounds(session, {t.instance_id for t in found})
    opinions = _opinions_by_round(session, [r.id for r in rounds.values()])
    names = _names(session, {o.reviewer for rows in opinions.values() for o in rows if o.reviewer})
    calendar = get_calendar(session=session)
    suspended = set(
        session.scalars(
            sa.select(ProcessInstance.id).where(
                ProcessInstance.id.in_({t.instance_id for t in found}), ProcessInstance.state == "suspended"
            )
        )
    )
    items = []
    for task in found:
        department = (task.properties or {}).get("department")
        approval_round = rounds.get(task.instance_id)
        branches = _branches(opinions.get(approval_round.id, []) if approval_round else [], names)
        items.append(
            SignItem(
                task=task,
                project=projects.get(task.business_key),
                round_no=approval_round.round_no if approval_round else None,
                review=next((b for b in branches if b.department == department), None),
                others=[b for b in branches if b.department != department],
                days_left=tasks.days_left(calendar=calendar, due_at=task.due_at, now=now),
                overdue=task.due_at is not None and task.due_at <= now,
                suspended=task.instance_id in suspended,
            )
        )
    return items


def _open_rounds(session, instance_ids: set[int]) -> dict[int, ApprovalRound]:
    """The round each instance is in (its latest, still open)."""
    latest = {}
    for approval_round in session.scalars(
        sa.select(ApprovalRound)
        .where(ApprovalRound.instance_id.in_(instance_ids), ApprovalRound.ended_at.is_(None))
        .order_by(ApprovalRound.round_no)
    ):
        latest[approval_round.instance_id] = approval_round
    return latest


def _opinions_by_round(session, round_ids: list[int]) -> dict[int, list[ApprovalOpinion]]:
    by_round: dict[int, list[ApprovalOpinion]] = {}
    if not round_ids:
        return by_round
    for opinion in session.scalars(
        sa.select(ApprovalOpinion)
        .where(ApprovalOpinion.round_id.in_(round_ids))
        .order_by(ApprovalOpinion.decided_at, ApprovalOpinion.id)
    ):
        by_round.setdefault(opinion.round_id, []).append(opinion)
    return by_round


def _names(session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    return dict(
        session.execute(sa.select(User.username, User.display_name).where(User.username.in_(usernames))).all()
    )


def _branches(rows: list[ApprovalOpinion], names: dict[str, str]) -> list[BranchOpinion]:
    """The round's opinions as branches: per department its last review with the signature
    that followed it (a review given again after 退回 needs signing again), then the votes."""
    reviews: dict[str, ApprovalOpinion] = {}
    signatures: dict[str, ApprovalOpinion] = {}
    votes = []
    for row in rows:  # oldest first: later ones replace earlier ones
        if row.department == "expert":
            if row.decision in REVIEW_DECISIONS:
                votes.append(row)
        elif row.decision in REVIEW_DECISIONS:
            reviews[row.department] = row
            signatures.pop(row.department, None)
        elif row.decision in HEAD_DECISIONS:
            signatures[row.department] = row
    order = list(DEPARTMENT_NAMES)
    branches = []
    for department in sorted(reviews, key=lambda d: order.index(d) if d in order else len(order)):
        review, signature = reviews[department], signatures.get(department)
        overruled = signature is not None and signature.decision == "overruled"
        decision = review.decision
        if overruled:
            decision = "rejected" if review.decision == "approved" else "approved"
        branches.append(
            BranchOpinion(
                department=department,
                department_name=DEPARTMENT_NAMES.get(department, department),
                decision=decision,
                opinion=signature.opinion if overruled else review.opinion,
                by=names.get(review.reviewer, review.reviewer or ""),
                at=review.decided_at,
                signed_by=names.get(signature.reviewer, signature.reviewer or "") if signature else None,
                overruled=overruled,
            )
        )
    branches.extend(
        BranchOpinion(
            department="expert",
            department_name=DEPARTMENT_NAMES["expert"],
            decision=vote.decision,
            opinion=vote.opinion,
            by="",
            at=vote.decided_at,
        )
        for vote in votes
    )
    return branches


# --- signing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignResult:
    task_id: str
    project_code: str | None
    title: str  # the project's name, else the step's
    outcome: str | None  # completed | held (waiting for 后加签 signers); None when refused
    error: str | None  # why it was not signed (Chinese, for the user)

    @property
    def signed(self) -> bool:
        return self.outcome is not None


def batch_sign(
    *, session, user: User, task_ids: list[str], remark: str = "", now: datetime | None = None
) -> list[SignResult]:
    """批量签署: agree (同意) to each task's reviewer opinion with one common remark. Each
    task is claimed if unclaimed and completed in its own savepoint; a refused one is
    reported with its reason and leaves the others signed. Raises SignRemarkInvalid before
    signing anything when the remark does not fit the form."""
    now = now or utcnow()
    data: dict = {"head_approved": True}
    remark = (remark or "").strip()
    if remark:
        data["head_opinion"] = remark
    # A bad remark refuses the whole batch before anything is signed (checked with the newest
    # form); anything else is checked per task, with the form version its instance started with.
    errors = validate(form_store.peek(session=session, name=HEAD_SIGN_FORM) or {}, data)
    if "head_opinion" in errors:
        raise SignRemarkInvalid(errors["head_opinion"])
    return [_sign_one(session, user, task_id, data, now) for task_id in dict.fromkeys(task_ids)]


def _sign_one(session, user: User, task_id: str, data: dict, now: datetime) -> SignResult:
    task = session.get(HumanTask, task_id)
    if task is None or task.form != HEAD_SIGN_FORM or task.parent_task_id is not None:
        return SignResult(task_id, None, task_id, None, "不是会签签署任务, 不能批量签署")
    code = task.business_key
    title = session.scalar(sa.select(Project.name).where(Project.code == code)) if code else None
    title = title or task.title or task.element_id
    try:
        errors = validate(form_store.for_task(session=session, task=task), data)
    except FormError as exc:
        errors = {"_form": str(exc)}
    if errors:
        return SignResult(task_id, code, title, None, "；".join(errors.values()))
    try:
        with session.begin_nested():
            if task.assignee is None:
                tasks.claim(session=session, user=user, task_id=task_id, now=now)
            outcome = add_sign.submit(session=session, user=user, task_id=task_id, data=dict(data), now=now)
    except (TaskActionError, WorkflowError) as exc:
        return SignResult(task_id, code, title, None, str(exc))
    return SignResult(task_id, code, title, outcome, None)
