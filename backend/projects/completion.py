"""开工申报 and 竣工验收 (issue 10): the two steps that move an approved project on to 在建 and
to 已竣工, and the benefit indicators (效益指标) recorded at acceptance, which the KPI 投资效益比
(backend/kpi/service.py) is computed from.

- 开工申报: the owner unit's applicant (`project.apply`, of the project's 建设单位) reports the
  actual start date, on or after the 批复 date and not in the future (Beijing calendar), and
  optionally the 施工许可证号; approved → in_construction.
- 竣工验收: recorded by 发改 staff holding `project.accept` whose data scope includes the
  project, for an in_construction project: the date (on or after the actual start, not in the
  future), the conclusion (合格 / 不合格 with an opinion) and the benefits. Only 合格 completes
  the project (status completed, `actual_end` = the acceptance date) and is final; a 不合格
  record is replaced by the next acceptance after rectification.

Both transitions are compare-and-set UPDATEs on the project's status, so two people sending
the same form at once cannot both succeed (the second one is refused with a message), and the
completion row is unique per project. Keyword-only functions; none commits. Refusals raise
CompletionError with Chinese messages per form field (message ids; the views translate).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from backend.audit import record
from backend.authz import has_permission
from backend.authz.scope import project_clause, scope_of, sees_project
from backend.db import utcnow
from backend.files.models import StoredFile
from backend.projects.models import Project, ProjectCompletion
from backend.workdays.service import local_date

# The department whose staff accept completed projects (发改).
ACCEPTING_DEPARTMENT = "fgw"
CONCLUSIONS = {"passed": "合格", "failed": "不合格"}
PERMIT_MAX = 60
TEXT_MAX = 2000

_AMOUNT = re.compile(r"\d{1,16}(\.\d{1,2})?")
_COUNT = re.compile(r"\d{1,9}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # what a date input sends (fromisoformat takes more)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_CENT = Decimal("0.01")


class CompletionError(ValueError):
    """A refused 开工申报 or 竣工验收: `errors` maps a form field ("_" for the whole request) to
    a Chinese message id, `params` the values the message names."""

    def __init__(self, errors: dict[str, str], params: dict[str, dict] | None = None):
        self.errors = errors
        self.params = params or {}
        super().__init__("; ".join(message % self.params.get(field, {}) for field, message in errors.items()))


# --- who may act ---------------------------------------------------------------------------------


def may_report_start(*, user, project: Project) -> bool:
    """The owner unit's applicant: holds `project.apply` and belongs to the project's 建设单位."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return (
        user.unit_id is not None
        and user.unit_id == project.owner_unit_id
        and has_permission(user, "project.apply")
    )


def may_accept(*, session, user, project: Project) -> bool:
    """发改 staff holding `project.accept` whose data scope includes the project."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    department = getattr(user, "department", None)
    return (
        department is not None
        and department.code == ACCEPTING_DEPARTMENT
        and has_permission(user, "project.accept")
        and sees_project(user, project, session=session)
    )


def completion_of(*, session, project: Project) -> ProjectCompletion | None:
    return session.scalar(sa.select(ProjectCompletion).where(ProjectCompletion.project_id == project.id))


# --- 开工申报 --------------------------------------------------------------------------------------


def report_start(
    *,
    session,
    project: Project,
    actor,
    actual_start: Any,
    permit_no: Any = None,
    today: date | None = None,
) -> Project:
    """Record the actual start: approved → in_construction. Raises CompletionError."""
    if not may_report_start(user=actor, project=project):
        raise CompletionError({"_": "只有本项目建设单位的申报人可以申报开工"})
    if project.status != "approved":
        raise CompletionError({"_": "只有已批复的项目可以申报开工"})
    today = today or local_date(utcnow())
    errors: dict[str, str] = {}
    params: dict[str, dict] = {}
    start = _date(actual_start, "actual_start", "请填写实际开工日期", errors)
    if start is not None:
        approved_on = local_date(project.approved_at) if project.approved_at is not None else None
        if start > today:
            errors["actual_start"] = "实际开工日期不能晚于今天"
        elif approved_on is not None and start < approved_on:
            errors["actual_start"] = "实际开工日期不能早于批复日期 %(date)s"
            params["actual_start"] = {"date": approved_on.isoformat()}
    permit = _text(permit_no)
    if len(permit) > PERMIT_MAX:
        errors["permit_no"] = "施工许可证号不能超过60个字符"
    elif _CONTROLS.search(permit):
        errors["permit_no"] = "施工许可证号含有不可见字符"
    if errors:
        raise CompletionError(errors, params)
    # Compare-and-set: of two reports sent at once only the first finds the project approved.
    changed = session.execute(
        sa.update(Project)
        .where(Project.id == project.id, Project.status == "approved")
        .values(status="in_construction", actual_start=start, construction_permit_no=permit or None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise CompletionError({"_": "该项目已申报开工，请刷新页面后查看"})
    session.refresh(project)
    record(
        "project.start",
        object_type="project",
        object_id=project.code,
        detail={"actual_start": start.isoformat(), "construction_permit_no": permit or None},
        user=actor,
        session=session,
    )
    session.flush()
    return project


# --- 竣工验收 --------------------------------------------------------------------------------------


def record_acceptance(
    *,
    session,
    project: Project,
    actor,
    accepted_on: Any,
    conclusion: Any,
    opinion: Any = "",
    annual_benefit: Any = None,
    new_jobs: Any = None,
    annual_tax: Any = None,
    other_benefits: Any = "",
    document: tuple[str, str] | None = None,
    today: date | None = None,
) -> ProjectCompletion:
    """Record a 竣工验收 of an in_construction project (`document`: (sha256, name) of a stored
    file, or None). 合格 completes the project; 不合格 keeps it in construction. Raises
    CompletionError."""
    if not may_accept(session=session, user=actor, project=project):
        raise CompletionError({"_": "只有发改部门负责竣工验收的人员可以记录本项目的竣工验收"})
    if project.status == "completed":
        raise CompletionError({"_": "该项目已通过竣工验收，不能重复验收"})
    if project.status != "in_construction":
        raise CompletionError({"_": "只有在建项目可以竣工验收"})
    today = today or local_date(utcnow())
    errors: dict[str, str] = {}
    params: dict[str, dict] = {}
    day = _date(accepted_on, "accepted_on", "请填写验收日期", errors)
    if day is not None:
        # Projects put in construction before 开工申报 existed have no actual start: the 批复.
        floor = project.actual_start or (local_date(project.approved_at) if project.approved_at else None)
        if day > today:
            errors["accepted_on"] = "验收日期不能晚于今天"
        elif floor is not None and day < floor:
            errors["accepted_on"] = "验收日期不能早于实际开工日期 %(date)s"
            params["accepted_on"] = {"date": floor.isoformat()}
    if conclusion not in CONCLUSIONS:
        errors["conclusion"] = "请选择验收结论（合格或不合格）"
    opinion_text = _text(opinion)
    if conclusion == "failed" and not opinion_text:
        errors["opinion"] = "验收不合格时请填写验收意见（需整改的问题）"
    elif len(opinion_text) > TEXT_MAX:
        errors["opinion"] = "验收意见不能超过2000字"
    # The benefits are required for 合格 (they feed 投资效益比); optional for 不合格.
    required = conclusion == "passed"
    benefit = _money(
        annual_benefit,
        "annual_benefit",
        ("验收合格时请填写年均经济效益", "年均经济效益应为不小于0、最多两位小数的金额（元）"),
        required,
        errors,
    )
    tax = _money(
        annual_tax,
        "annual_tax",
        ("验收合格时请填写年均税收", "年均税收应为不小于0、最多两位小数的金额（元）"),
        required,
        errors,
    )
    jobs = _count(new_jobs, "new_jobs", required, errors)
    other = _text(other_benefits)
    if len(other) > TEXT_MAX:
        errors["other_benefits"] = "其他效益说明不能超过2000字"
    if document is not None and session.get(StoredFile, document[0]) is None:
        errors["document"] = "验收文件未上传成功，请重新选择"
    if errors:
        raise CompletionError(errors, params)

    values = {
        "accepted_on": day,
        "conclusion": conclusion,
        "opinion": opinion_text,
        "annual_benefit": benefit,
        "new_jobs": jobs,
        "annual_tax": tax,
        "other_benefits": other,
        "document_sha256": document[0] if document else None,
        "document_name": document[1][:255] if document else None,
        "recorded_by": actor.username,
        "recorded_at": utcnow(),
    }
    row = _write_completion(session, project, values)
    if conclusion == "passed":
        # Compare-and-set: a concurrent acceptance that completed the project first wins.
        changed = session.execute(
            sa.update(Project)
            .where(Project.id == project.id, Project.status == "in_construction")
            .values(status="completed", actual_end=day)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            raise CompletionError({"_": "该项目的竣工验收已由他人记录，请刷新页面后查看"})
    session.refresh(project)
    record(
        "project.accept",
        object_type="project",
        object_id=project.code,
        detail={
            "accepted_on": day.isoformat(),
            "conclusion": conclusion,
            "round": row.rounds,
            "annual_benefit": str(benefit) if benefit is not None else None,
            "new_jobs": jobs,
            "annual_tax": str(tax) if tax is not None else None,
            "document": values["document_sha256"],
        },
        user=actor,
        session=session,
    )
    if document is not None:
        _deposit(session, project, row, actor)
    session.flush()
    return row


def _write_completion(session, project: Project, values: dict) -> ProjectCompletion:
    """Insert the project's completion row, or replace a failed one (the next round)."""
    existing = completion_of(session=session, project=project)
    if existing is None:
        row = ProjectCompletion(project_id=project.id, rounds=1, **values)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # another acceptance of the same project was inserted first
            raise CompletionError({"_": "该项目的竣工验收已由他人记录，请刷新页面后查看"}) from None
        return row
    if existing.conclusion == "passed":
        raise CompletionError({"_": "该项目已通过竣工验收，不能重复验收"})
    # Compare-and-set on the round: two re-acceptances at once cannot both replace it.
    changed = session.execute(
        sa.update(ProjectCompletion)
        .where(
            ProjectCompletion.id == existing.id,
            ProjectCompletion.rounds == existing.rounds,
            ProjectCompletion.conclusion == "failed",
        )
        .values(rounds=existing.rounds + 1, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise CompletionError({"_": "该项目的竣工验收已由他人记录，请刷新页面后查看"})
    session.refresh(existing)
    return existing


def _deposit(session, project: Project, row: ProjectCompletion, actor) -> None:
    """The acceptance document goes into the evidence ledger (存证), as the milestone
    acceptance files do (backend/evidence/hooks.py)."""
    from backend.evidence import service as evidence
    from backend.files.errors import FileMissing

    try:
        evidence.deposit_stored_file(
            session=session,
            project=project,
            document_type="acceptance",
            sha256=row.document_sha256,
            title=row.document_name or row.document_sha256[:12],
            depositor=actor.username,
            source="completion",
            source_ref=f"project_completion:{row.id}:{row.rounds}",
        )
    except FileMissing:  # the bytes are gone: nothing to fingerprint; the row keeps the hash
        return


# --- who may read the acceptance documents --------------------------------------------------------


def readable_files(user, hashes):
    """files.access reader: (sha256, name, recorded_at) of acceptance documents among `hashes`
    whose project `user` sees (data scope)."""
    from backend.extensions import db

    scope = scope_of(user, session=db.session)
    return (
        sa.select(
            ProjectCompletion.document_sha256, ProjectCompletion.document_name, ProjectCompletion.recorded_at
        )
        .join(Project, Project.id == ProjectCompletion.project_id)
        .where(ProjectCompletion.document_sha256.in_(list(hashes)), project_clause(scope))
    )


# --- parsing -------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _date(value: Any, field: str, missing: str, errors: dict) -> date | None:
    if isinstance(value, datetime):
        errors[field] = "日期格式应为 YYYY-MM-DD"
        return None
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        errors[field] = missing
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = "日期格式应为 YYYY-MM-DD"
        return None


def _money(value: Any, field: str, messages: tuple[str, str], required: bool, errors: dict) -> Decimal | None:
    """Yuan with at most two decimals, ≥ 0, as text or Decimal (never float). `messages`:
    (missing, invalid)."""
    missing, invalid = messages
    if isinstance(value, bool | float):
        errors[field] = "金额须以文本填写，不接受浮点数"
        return None
    if isinstance(value, Decimal | int):
        value = str(value)
    text = _text(value).replace(",", "")
    if not text:
        if required:
            errors[field] = missing
        return None
    if not _AMOUNT.fullmatch(text):
        errors[field] = invalid
        return None
    try:
        return Decimal(text).quantize(_CENT)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        errors[field] = invalid
        return None


def _count(value: Any, field: str, required: bool, errors: dict) -> int | None:
    if isinstance(value, bool | float):
        errors[field] = "新增就业应为不小于0的整数（人）"
        return None
    if isinstance(value, int):
        value = str(value)
    text = _text(value)
    if not text:
        if required:
            errors[field] = "验收合格时请填写新增就业人数"
        return None
    if not _COUNT.fullmatch(text):
        errors[field] = "新增就业应为不小于0的整数（人）"
        return None
    return int(text)
