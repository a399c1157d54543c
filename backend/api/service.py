"""Read queries of the REST API: pages in a stable keyset order, filtered by the same fields
as the UI and narrowed to the caller's data scope. Keyword-only functions over a session.

`scope`: the caller's data scope (backend.authz.scope, an API key's region already applied),
the same rule as the pages; `regions`: a filter asked for (行政区划 codes), or None.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from backend.authz import has_permission
from backend.authz.scope import Scope, instance_clause, project_clause
from backend.contracts.models import Contract, Payment
from backend.org.models import User
from backend.projects.models import Project
from backend.tickets.models import Ticket
from backend.workflow.models import HumanTask, ProcessDefinition, ProcessInstance


@dataclass
class Rows:
    rows: list
    more: bool


def _page(session, query, limit: int) -> Rows:
    rows = list(session.scalars(query.limit(limit + 1)))
    return Rows(rows=rows[:limit], more=len(rows) > limit)


# --- process definitions ---------------------------------------------------------------------


def definitions(*, session, key: str | None, after: tuple | None, limit: int) -> Rows:
    """Without `key`: the latest version of each process, by key. With it: every version of
    that process, newest first. `after` is (key, version) of the last row seen."""
    query = sa.select(ProcessDefinition)
    if key:
        query = query.where(ProcessDefinition.key == key)
        if after:
            query = query.where(ProcessDefinition.version < after[1])
        return _page(session, query.order_by(ProcessDefinition.version.desc()), limit)
    latest = (
        sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("version"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    query = query.join(
        latest, sa.and_(latest.c.key == ProcessDefinition.key, latest.c.version == ProcessDefinition.version)
    )
    if after:
        query = query.where(ProcessDefinition.key > after[0])
    return _page(session, query.order_by(ProcessDefinition.key), limit)


# --- instances -------------------------------------------------------------------------------


def visible_instances(user: User):
    """The instances a person may read: all for operators, else those they started or have
    (had) a task in, as assignee, completer or candidate."""
    if has_permission(user, "cockpit.read"):
        return sa.true()
    groups = sorted(user.groups)
    return sa.or_(
        ProcessInstance.started_by == user.username,
        sa.exists().where(
            HumanTask.instance_id == ProcessInstance.id,
            sa.or_(
                HumanTask.assignee == user.username,
                HumanTask.completed_by == user.username,
                HumanTask.candidate_group.in_(groups),
            ),
        ),
    )


def instances(
    *,
    session,
    user: User,
    scope: Scope,
    process_key: str | None = None,
    state: str | None = None,
    business_key: str | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    before_id: int | None = None,
    limit: int,
) -> Rows:
    """Newest first (id descending)."""
    query = sa.select(ProcessInstance).options(selectinload(ProcessInstance.definition))
    query = query.where(visible_instances(user))
    query = query.where(instance_clause(scope))
    if process_key:
        query = query.where(ProcessInstance.process_key == process_key)
    if state:
        query = query.where(ProcessInstance.state == state)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    if started_after:
        query = query.where(ProcessInstance.started_at >= started_after)
    if started_before:
        query = query.where(ProcessInstance.started_at < started_before)
    if before_id is not None:
        query = query.where(ProcessInstance.id < before_id)
    return _page(session, query.order_by(ProcessInstance.id.desc()), limit)


def may_read_instance(*, session, user: User, instance: ProcessInstance) -> bool:
    return bool(
        session.scalar(
            sa.select(sa.exists().where(ProcessInstance.id == instance.id, visible_instances(user)))
        )
    )


def open_tasks(*, session, instance_id: int) -> list[HumanTask]:
    return list(
        session.scalars(
            sa.select(HumanTask)
            .where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
            .order_by(HumanTask.created_at, HumanTask.id)
        )
    )


# --- projects, contracts, payments, tickets (ascending id) -----------------------------------


def _in_regions(query, scope: Scope, regions: set[str] | None):
    query = query.where(project_clause(scope))
    return query if regions is None else query.where(Project.region_code.in_(sorted(regions)))


def projects(
    *,
    session,
    scope: Scope,
    regions: set[str] | None,
    status: str | None = None,
    text: str | None = None,
    after_id: int | None = None,
    limit: int,
) -> Rows:
    query = sa.select(Project).options(selectinload(Project.owner_unit))
    query = _in_regions(query, scope, regions)
    if status:
        query = query.where(Project.status == status)
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.where(sa.or_(Project.name.like(like), Project.code.like(like)))
    if after_id is not None:
        query = query.where(Project.id > after_id)
    return _page(session, query.order_by(Project.id), limit)


def project_by_code(*, session, code: str) -> Project | None:
    return session.scalar(sa.select(Project).where(Project.code == code))


def contracts(
    *,
    session,
    scope: Scope,
    regions: set[str] | None,
    project_code: str | None = None,
    after_id: int | None = None,
    limit: int,
) -> Rows:
    query = (
        sa.select(Contract)
        .join(Project, Project.id == Contract.project_id)
        .options(selectinload(Contract.milestones), selectinload(Contract.project))
    )
    query = _in_regions(query, scope, regions)
    if project_code:
        query = query.where(Project.code == project_code)
    if after_id is not None:
        query = query.where(Contract.id > after_id)
    return _page(session, query.order_by(Contract.id), limit)


def payments(
    *,
    session,
    scope: Scope,
    regions: set[str] | None,
    project_code: str | None = None,
    contract_number: str | None = None,
    state: str | None = None,
    after_id: int | None = None,
    limit: int,
) -> Rows:
    query = (
        sa.select(Payment)
        .join(Contract, Contract.id == Payment.contract_id)
        .join(Project, Project.id == Contract.project_id)
        .options(
            selectinload(Payment.contract).selectinload(Contract.project),
            selectinload(Payment.milestone),
        )
    )
    query = _in_regions(query, scope, regions)
    if project_code:
        query = query.where(Project.code == project_code)
    if contract_number:
        query = query.where(Contract.number == contract_number)
    if state:
        query = query.where(Payment.state == state)
    if after_id is not None:
        query = query.where(Payment.id > after_id)
    return _page(session, query.order_by(Payment.id), limit)


def tickets(
    *,
    session,
    scope: Scope,
    regions: set[str] | None,
    project_code: str | None = None,
    status: str | None = None,
    severity: str | None = None,
    overdue: bool | None = None,
    after_id: int | None = None,
    limit: int,
) -> Rows:
    query = (
        sa.select(Ticket).join(Project, Project.id == Ticket.project_id).options(selectinload(Ticket.project))
    )
    query = _in_regions(query, scope, regions)
    if project_code:
        query = query.where(Project.code == project_code)
    if status:
        query = query.where(Ticket.status == status)
    if severity:
        query = query.where(Ticket.severity == severity)
    if overdue is not None:
        query = query.where(Ticket.overdue.is_(overdue))
    if after_id is not None:
        query = query.where(Ticket.id > after_id)
    return _page(session, query.order_by(Ticket.id), limit)
