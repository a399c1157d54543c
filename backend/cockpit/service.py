"""Queries behind the cockpit pages. The actions themselves live in workflow/service.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.workflow import service as workflow
from backend.workflow.models import Event, HumanTask, Incident, MessageWait, ProcessInstance, Timer

SHANGHAI = ZoneInfo("Asia/Shanghai")
STATES = ("running", "incident", "suspended", "completed", "cancelled")
# Event kinds whose element ids were passed through (the diagram's "completed" marks).
_DONE_KINDS = ("task.completed", "timer.fired", "message.caught", "task.returned", "task.withdrawn")


@dataclass
class InstanceFilter:
    process_key: str | None = None
    version: int | None = None
    state: str | None = None
    business_key: str | None = None
    started_from: date | None = None  # Asia/Shanghai calendar days, inclusive
    started_to: date | None = None


@dataclass
class InstancePage:
    rows: list
    counts: dict[str, int]
    next_before: int | None  # keyset: the next page shows ids below this


def _shanghai_midnight(day: date):
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _filtered(query, f: InstanceFilter, *, with_state: bool = True):
    from backend.workflow.models import ProcessDefinition

    if f.process_key:
        query = query.where(ProcessInstance.process_key == f.process_key)
    if f.version is not None:
        query = query.join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id).where(
            ProcessDefinition.version == f.version
        )
    if f.business_key:
        query = query.where(ProcessInstance.business_key == f.business_key)
    if f.started_from:
        query = query.where(ProcessInstance.started_at >= _shanghai_midnight(f.started_from))
    if f.started_to:
        query = query.where(ProcessInstance.started_at < _shanghai_midnight(f.started_to + timedelta(days=1)))
    if with_state and f.state:
        query = query.where(ProcessInstance.state == f.state)
    return query


def list_instances(
    *, session, filters: InstanceFilter, before: int | None = None, limit: int = 50, scope=None
) -> InstancePage:
    """Newest first, `limit` a page; counts per state cover every filter but the state.
    `scope`: a WHERE clause of the caller's data scope (backend.authz.scope), None for all."""
    query = _filtered(sa.select(ProcessInstance), filters)
    if scope is not None:
        query = query.where(scope)
    if before is not None:
        query = query.where(ProcessInstance.id < before)
    rows = list(session.scalars(query.order_by(ProcessInstance.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    counted = _filtered(
        sa.select(ProcessInstance.state, sa.func.count()).select_from(ProcessInstance),
        filters,
        with_state=False,
    ).group_by(ProcessInstance.state)
    if scope is not None:
        counted = counted.where(scope)
    counts = dict.fromkeys(STATES, 0)
    counts.update({state: n for state, n in session.execute(counted).all()})
    return InstancePage(rows=rows, counts=counts, next_before=rows[-1].id if more else None)


@dataclass
class InstanceView:
    instance: ProcessInstance
    highlights: dict[str, list[str]]
    variables: dict
    engine_timers: list = field(default_factory=list)
    tasks: list = field(default_factory=list)
    events: list = field(default_factory=list)
    timers: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    incidents: list = field(default_factory=list)


def instance_view(*, session, instance_id: int) -> InstanceView | None:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        return None
    tasks = list(
        session.scalars(
            sa.select(HumanTask).filter_by(instance_id=instance.id).order_by(HumanTask.created_at)
        )
    )
    events = list(session.scalars(sa.select(Event).filter_by(instance_id=instance.id).order_by(Event.id)))
    timers = list(session.scalars(sa.select(Timer).filter_by(instance_id=instance.id)))
    messages = list(
        session.scalars(sa.select(MessageWait).filter_by(instance_id=instance.id).order_by(MessageWait.id))
    )
    incidents = list(
        session.scalars(sa.select(Incident).filter_by(instance_id=instance.id).order_by(Incident.id))
    )

    engine = workflow.inspect_instance(session=session, instance_id=instance.id)
    failed = {i.element_id for i in incidents if i.state == "open" and i.element_id}
    active = {t.element_id for t in tasks if t.state == "open"}
    if instance.state not in ("completed", "cancelled"):
        active |= {t.element_id for t in timers} | {m.element_id for m in messages}
        active |= {t["element_id"] for t in engine["timers"]}
    active -= failed
    completed = {t.element_id for t in tasks if t.state == "completed"}
    completed |= {e.element_id for e in events if e.kind in _DONE_KINDS and e.element_id}
    completed |= set(engine["completed_elements"])
    completed -= active | failed
    highlights = {"completed": sorted(completed), "active": sorted(active), "failed": sorted(failed)}
    return InstanceView(
        instance=instance,
        highlights=highlights,
        variables=engine["variables"],
        engine_timers=engine["timers"],
        tasks=tasks,
        events=events,
        timers=timers,
        messages=messages,
        incidents=incidents,
    )


@dataclass
class HistoryPage:
    events: list
    next_before: int | None  # the id to page on from, when older events remain


def history(*, session, instance_id: int, before: int | None = None, limit: int = 50) -> HistoryPage:
    """An instance's events, newest first, `limit` a page (keyset on the event id)."""
    query = sa.select(Event).where(Event.instance_id == instance_id)
    if before is not None:
        query = query.where(Event.id < before)
    rows = list(session.scalars(query.order_by(Event.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return HistoryPage(events=rows, next_before=rows[-1].id if more else None)


def process_keys(*, session) -> list[str]:
    from backend.workflow.models import ProcessDefinition

    return list(session.scalars(sa.select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)))
