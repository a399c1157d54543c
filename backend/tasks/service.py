"""The inbox: the tabs a reviewer sees, their counts, and the operations on a task that
need no engine. Keyword-only functions over a session; they flush, never commit."""

import base64
import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate

import sqlalchemy as sa

from backend.db import utcnow
from backend.org.groups import group_name
from backend.org.models import User
from backend.org.service import descendant_codes, get_user, users_in_group
from backend.projects.models import Project
from backend.tasks.errors import (
    AlreadyClaimed,
    DecisionHeld,
    DelegationPending,
    InvalidTarget,
    NoPendingDelegation,
    NotAssignee,
    NotCandidate,
    NotInGroupQueue,
    NotInvolved,
    ReasonRequired,
    SignersPending,
    SignOnly,
    TaskActionError,
    TaskNotOpen,
    UnknownUser,
    UrgedTooSoon,
)
from backend.tasks.mail import queue_mail
from backend.tasks.models import Delegation, HeldDecision, Notification, TaskAction, TaskCopy
from backend.workdays.service import WorkCalendar, get_calendar, local_date
from backend.workflow.errors import TaskNotFound
from backend.workflow.host import lock_instance
from backend.workflow.models import HumanTask, ProcessInstance
from backend.workflow.service import refuse_if_suspended

PAGE_SIZE = 20
DUE_STATES = ("on_time", "due_soon", "overdue")
TABS = ("mine", "group", "done", "copied", "initiated")


# --- inbox queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilters:
    process_key: str | None = None
    business_key: str | None = None
    region_code: str | None = None  # a division and everything under it
    due_state: str | None = None  # on_time | due_soon | overdue


@dataclass(frozen=True)
class TaskRow:
    task: HumanTask
    days_left: int | None  # working days; negative when overdue; None without a due time
    due_state: str | None


@dataclass(frozen=True)
class Page:
    rows: list[TaskRow]
    next_cursor: str | None


@dataclass(frozen=True)
class _DueBounds:
    """A task is overdue when due_at <= now, due soon when due_at <= soon (at most one
    working day left: its due day is before the second working day after today)."""

    now: datetime
    soon: datetime

    @classmethod
    def at(cls, calendar: WorkCalendar, now: datetime) -> "_DueBounds":
        # End of the 2nd working day after today, minus a day: the midnight that starts it.
        return cls(now=now, soon=calendar.add_working_days(now, 2) - timedelta(days=1))

    def state(self, due_at: datetime | None) -> str | None:
        if due_at is None:
            return None
        if due_at <= self.now:
            return "overdue"
        return "due_soon" if due_at <= self.soon else "on_time"


def days_left(*, calendar: WorkCalendar, due_at: datetime | None, now: datetime) -> int | None:
    """Working days left until due_at (its day counting, today not); negative when overdue."""
    return _days_left_all(calendar, [due_at], now)[0]


_MONDAY = date(2001, 1, 1)


def _weekdays_through(day: date) -> int:
    """Mon–Fri days from a fixed Monday through `day`; differences count the weekdays between."""
    weeks, rest = divmod((day - _MONDAY).days + 1, 7)
    return weeks * 5 + min(rest, 5)


def _days_left_all(calendar: WorkCalendar, dues: list[datetime | None], now: datetime) -> list[int | None]:
    """days_left for a page at once, without walking the days it spans (the 已办 tab spans
    years): weekdays by arithmetic, corrected by the calendar's stored days in the span
    (holidays, adjusted working weekends)."""
    # A deadline is the midnight ending its day: count up to the last instant before it.
    days = {due: local_date(due - timedelta(microseconds=1)) for due in dues if due is not None}
    if not days:
        return [None] * len(dues)
    today = local_date(now)
    first, last = min(today, *days.values()), max(today, *days.values())
    stored = sorted(
        (day, int(works) - (day.weekday() < 5)) for day, works in calendar.days.items() if first < day <= last
    )
    stored_days, corrections = [day for day, _ in stored], list(accumulate((c for _, c in stored), initial=0))

    def worked_through(day: date) -> int:
        return _weekdays_through(day) + corrections[bisect_right(stored_days, day)]

    result = []
    for due in dues:
        if due is None:
            result.append(None)
            continue
        left = worked_through(days[due]) - worked_through(today)
        result.append(min(left, -1) if due <= now else left)
    return result


# Each tab's condition over a username and a list of candidate groups (values or bind
# parameters: tab_counts builds its statement once).


def _mine(username, groups):
    return sa.and_(HumanTask.state == "open", HumanTask.assignee == username)


def _group(username, groups):
    return sa.and_(
        HumanTask.state == "open", HumanTask.candidate_group.in_(groups), HumanTask.assignee.is_(None)
    )


def _done(username, groups):
    return HumanTask.completed_by == username


def _copied(username, groups):
    return HumanTask.id.in_(sa.select(TaskCopy.task_id).where(TaskCopy.to_user == username))


def _initiated(username, groups):
    """Where my applications wait now: the open tasks of the instances I started. Only an
    instance still going has open tasks (host.save closes them when it ends), so the finished
    ones, most of a big applicant's history, are not looked at."""
    return sa.and_(
        HumanTask.state == "open",
        HumanTask.instance_id.in_(
            sa.select(ProcessInstance.id).where(
                ProcessInstance.started_by == username,
                ProcessInstance.state.not_in(("completed", "cancelled")),
            )
        ),
    )


_TAB_CONDITIONS = {"mine": _mine, "group": _group, "done": _done, "copied": _copied, "initiated": _initiated}


def _groups(user: User) -> list[str]:
    return sorted(user.groups)  # none: an empty IN, false


def _filtered(session, query, filters: InboxFilters):
    """The filters but the due state, which bounds the keyset scans instead (_due_range)."""
    if filters.process_key:
        query = query.where(HumanTask.process_key == filters.process_key)
    if filters.business_key:
        query = query.where(HumanTask.business_key == filters.business_key)
    if filters.region_code:
        codes = descendant_codes(session=session, code=filters.region_code)
        # EXISTS, not IN (codes of the region's projects): SQLite would list every project
        # of the province first; this probes the project of each task the scan meets.
        query = query.where(
            sa.exists().where(Project.code == HumanTask.business_key, Project.region_code.in_(sorted(codes)))
        )
    return query


def _due_range(due_state: str | None, bounds: _DueBounds) -> tuple[list, bool]:
    """The due-state filter as conditions on the due_at of dated tasks, and whether undated
    tasks (never late) pass it."""
    if due_state is None:
        return [], True
    if due_state == "overdue":
        return [HumanTask.due_at <= bounds.now], False
    if due_state == "due_soon":
        return [HumanTask.due_at > bounds.now, HumanTask.due_at <= bounds.soon], False
    if due_state == "on_time":
        return [HumanTask.due_at > bounds.soon], True
    raise ValueError(f"unknown due state {due_state!r}; one of {DUE_STATES}")


def encode_cursor(task: HumanTask) -> str:
    """Opaque position after `task` in the (due_at nulls last, created_at, id) order."""
    key = [task.due_at.isoformat() if task.due_at else None, task.created_at.isoformat(), task.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime | None, datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        due, created, task_id = json.loads(raw)
        due, created = (datetime.fromisoformat(due) if due else None), datetime.fromisoformat(created)
        if created.tzinfo is None or (due is not None and due.tzinfo is None):
            raise ValueError("naive time in cursor")
        return due, created, str(task_id)
    except (ValueError, TypeError) as exc:
        raise TaskActionError("分页参数无效, 请从第一页重新浏览", cursor=cursor) from exc


_DATED_ORDER = (HumanTask.due_at, HumanTask.created_at, HumanTask.id)
_UNDATED_ORDER = (HumanTask.created_at, HumanTask.id)


def _row_after(columns, values):
    """(a, b, ...) > (x, y, ...), the values bound with their columns' types (UTC times)."""
    bound = (sa.literal(value, column.type) for value, column in zip(values, columns, strict=True))
    return sa.tuple_(*columns) > sa.tuple_(*bound)


def _page_rows(session, query, *, cursor, dated_range: list, undated: bool, wanted: int) -> list[HumanTask]:
    """Up to `wanted` rows of `query` after the cursor, in (due_at nulls last, created_at, id)
    order: the dated tasks, then, if the page is not full yet, the undated ones. Each is a
    limited range scan of the tab's index; one scan under `due_at IS NULL OR (due_at, ...) >
    cursor` is no range for either planner and walks every row before the cursor. (Two plain
    statements: one UNION of both costs more to build in Python than the second round trip.)"""
    if cursor is None and undated and not dated_range:
        # The usual first page: one statement. Both planners read `due_at NULLS LAST` off
        # the index (PostgreSQL's ascending order; SQLite >= 3.30 in two passes).
        order = (HumanTask.due_at.asc().nulls_last(), HumanTask.created_at, HumanTask.id)
        return list(session.scalars(query.order_by(*order).limit(wanted)))
    due, created, task_id = _decode_cursor(cursor) if cursor else (None, None, None)
    rows: list[HumanTask] = []
    if cursor is None or due is not None:
        dated = query.where(HumanTask.due_at.is_not(None), *dated_range)
        if cursor:
            dated = dated.where(_row_after(_DATED_ORDER, (due, created, task_id)))
        rows = list(session.scalars(dated.order_by(*_DATED_ORDER).limit(wanted)))
    if undated and len(rows) < wanted:
        rest = query.where(HumanTask.due_at.is_(None))
        if cursor and due is None:  # else the cursor is among the dated: every undated is after it
            rest = rest.where(_row_after(_UNDATED_ORDER, (created, task_id)))
        rows += session.scalars(rest.order_by(*_UNDATED_ORDER).limit(wanted - len(rows)))
    return rows


# 已办 is read newest completion first: (completed_at desc nulls last, id desc), its own cursor.


def encode_done_cursor(task: HumanTask) -> str:
    key = ["done", task.completed_at.isoformat() if task.completed_at else None, task.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_done_cursor(cursor: str) -> tuple[datetime | None, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        mark, completed, task_id = json.loads(raw)
        if mark != "done":
            raise ValueError("not a 已办 cursor")
        completed = datetime.fromisoformat(completed) if completed else None
        if completed is not None and completed.tzinfo is None:
            raise ValueError("naive time in cursor")
        return completed, str(task_id)
    except (ValueError, TypeError) as exc:
        raise TaskActionError("分页参数无效, 请从第一页重新浏览", cursor=cursor) from exc


def _done_rows(session, query, *, cursor, due_range: tuple[list, bool], wanted: int) -> list[HumanTask]:
    """Up to `wanted` done tasks after the cursor, newest completion first, the id breaking
    ties (a countersign's tasks may share a completion time); rows without a completion
    time (every writer sets both columns; only old rows could lack it) last. Each part is a
    range scan of ix_human_task_done_by."""
    dated_range, undated = due_range
    if dated_range:  # the due-state filter is a plain condition here, not the order
        in_range = sa.and_(*dated_range)
        query = query.where(sa.or_(HumanTask.due_at.is_(None), in_range) if undated else in_range)
    completed, task_id = _decode_done_cursor(cursor) if cursor else (None, None)
    rows: list[HumanTask] = []
    if cursor is None or completed is not None:
        dated = query.where(HumanTask.completed_at.is_not(None))
        if cursor:
            bound = (
                sa.literal(completed, HumanTask.completed_at.type),
                sa.literal(task_id, HumanTask.id.type),
            )
            dated = dated.where(sa.tuple_(HumanTask.completed_at, HumanTask.id) < sa.tuple_(*bound))
        order = (HumanTask.completed_at.desc(), HumanTask.id.desc())
        rows = list(session.scalars(dated.order_by(*order).limit(wanted)))
    if len(rows) < wanted:
        rest = query.where(HumanTask.completed_at.is_(None))
        if cursor and completed is None:
            rest = rest.where(HumanTask.id < task_id)
        rows += session.scalars(rest.order_by(HumanTask.id.desc()).limit(wanted - len(rows)))
    return rows


def inbox(
    *,
    session,
    user: User,
    tab: str,
    filters: InboxFilters | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> Page:
    """One page of a tab, soonest due first (tasks without a due time last); 已办 newest
    completion first."""
    if tab not in _TAB_CONDITIONS:
        raise ValueError(f"unknown tab {tab!r}; one of {TABS}")
    now = now or utcnow()
    calendar = get_calendar(session=session)
    bounds = _DueBounds.at(calendar, now)
    filters = filters or InboxFilters()
    dated_range, undated = _due_range(filters.due_state, bounds)
    condition = _TAB_CONDITIONS[tab](user.username, _groups(user))
    scope = _in_scope(session, user) if tab == "group" else None
    if scope is not None:
        condition = sa.and_(condition, scope)
    query = _filtered(session, sa.select(HumanTask).where(condition), filters)
    if tab == "done":
        tasks = _done_rows(session, query, cursor=cursor, due_range=(dated_range, undated), wanted=limit + 1)
    else:
        tasks = _page_rows(
            session, query, cursor=cursor, dated_range=dated_range, undated=undated, wanted=limit + 1
        )
    more = len(tasks) > limit
    tasks = tasks[:limit]
    lefts = _days_left_all(calendar, [t.due_at for t in tasks], now)
    rows = [
        TaskRow(task=t, days_left=n, due_state=bounds.state(t.due_at))
        for t, n in zip(tasks, lefts, strict=True)
    ]
    encode = encode_done_cursor if tab == "done" else encode_cursor
    return Page(rows=rows, next_cursor=encode(tasks[-1]) if more else None)


def my_tasks(*, session, user: User, **options) -> Page:
    """待办: open tasks assigned to me."""
    return inbox(session=session, user=user, tab="mine", **options)


def group_tasks(*, session, user: User, **options) -> Page:
    """待签收: open, unclaimed tasks of my candidate groups."""
    return inbox(session=session, user=user, tab="group", **options)


def done_by_me(*, session, user: User, **options) -> Page:
    """已办: tasks I completed."""
    return inbox(session=session, user=user, tab="done", **options)


def copied_to_me(*, session, user: User, **options) -> Page:
    """抄送我的: tasks copied to me for information."""
    return inbox(session=session, user=user, tab="copied", **options)


def initiated_by_me(*, session, user: User, **options) -> Page:
    """我发起的: the open tasks of the instances I started."""
    return inbox(session=session, user=user, tab="initiated", **options)


_USERNAME, _GROUPS = sa.bindparam("username", type_=sa.String), sa.bindparam("groups", expanding=True)
_TAB_COUNTS = sa.select(
    *(
        sa.select(sa.func.count())
        .select_from(HumanTask)
        .where(condition(_USERNAME, _GROUPS))
        .scalar_subquery()
        .label(tab)
        for tab, condition in _TAB_CONDITIONS.items()
    )
)


def tab_counts(*, session, user: User) -> dict[str, int]:
    """How many rows each tab has, in one query (each an index-only count of that tab's
    rows: the largest, a busy reviewer's 已办, is a few thousand index entries)."""
    row = session.execute(_TAB_COUNTS, {"username": user.username, "groups": _groups(user)}).one()
    counts = dict(row._mapping)
    scope = _in_scope(session, user)
    if scope is not None:  # a city or county person: their groups' tasks of their regions only
        counts["group"] = session.scalar(
            sa.select(sa.func.count())
            .select_from(HumanTask)
            .where(_group(user.username, _groups(user)), scope)
        )
    return counts


def _in_scope(session, user: User):
    """Data scope (backend.authz.scope): a group's unclaimed tasks of the person's regions;
    None when the person sees everything."""
    from backend.authz.scope import scope_of, task_clause

    scope = scope_of(user, session=session)
    return None if scope.all else task_clause(scope)


# --- notifications ---------------------------------------------------------------------------


def notify(
    *,
    session,
    users,
    kind: str,
    title: str,
    instance_id: int | None = None,
    task_id: str | None = None,
    link: str | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """One notification for each distinct username given."""
    if link is None and task_id is not None:
        link = f"/tasks/{task_id}"
    created = []
    for username in dict.fromkeys(u for u in users if u):
        note = Notification(
            user=username,
            kind=kind,
            title=title[:300],
            link=link,
            instance_id=instance_id,
            task_id=task_id,
            created_at=now or utcnow(),
        )
        session.add(note)
        created.append(note)
    session.flush()
    queue_mail(session=session, notifications=created)
    return created


def unread_notifications(*, session, user: User, limit: int = 50) -> list[Notification]:
    return list(
        session.scalars(
            sa.select(Notification)
            .where(Notification.user == user.username, Notification.read_at.is_(None))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_read(*, session, user: User, notification_ids: list[int], now: datetime | None = None) -> int:
    """Mark my notifications read; returns how many changed."""
    result = session.execute(
        sa.update(Notification)
        .where(
            Notification.id.in_(notification_ids),
            Notification.user == user.username,
            Notification.read_at.is_(None),
        )
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@dataclass(frozen=True)
class NotificationPage:
    rows: list[Notification]
    next_cursor: str | None
    unread: int  # of everything the person may see, not only this page


def _visible_notifications(session, user: User):
    """My notifications the data scope lets me see: of instances out of my scope, only those
    about tasks I may still see (on my desk, offered to my unit by name) or copied to me. The
    list, the badge and 全部已读 use this one rule, so the unread count is what the pages can
    show."""
    from backend.authz.scope import instance_clause, scope_of, task_clause

    mine = Notification.user == user.username
    scope = scope_of(user, session=session)
    if scope.all:
        return mine
    return sa.and_(
        mine,
        sa.or_(
            Notification.instance_id.is_(None),
            Notification.instance_id.in_(sa.select(ProcessInstance.id).where(instance_clause(scope))),
            Notification.task_id.in_(sa.select(HumanTask.id).where(task_clause(scope))),
            Notification.task_id.in_(sa.select(TaskCopy.task_id).where(TaskCopy.to_user == user.username)),
        ),
    )


def unread_count(*, session, user: User) -> int:
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(_visible_notifications(session, user), Notification.read_at.is_(None))
    )


def notification_page(*, session, user: User, cursor: str | None = None, limit: int = PAGE_SIZE):
    """One page of my notifications, newest first ((created_at, id) descending: the id
    breaks ties of one moment), with the position after it and the unread count."""
    query = sa.select(Notification).where(_visible_notifications(session, user))
    if cursor:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            created, note_id = json.loads(raw)
            created, note_id = datetime.fromisoformat(created), int(note_id)
            if created.tzinfo is None:
                raise ValueError("naive time in cursor")
        except (ValueError, TypeError) as exc:
            raise TaskActionError("分页参数无效, 请从第一页重新浏览", cursor=cursor) from exc
        bound = (sa.literal(created, Notification.created_at.type), sa.literal(note_id, Notification.id.type))
        query = query.where(sa.tuple_(Notification.created_at, Notification.id) < sa.tuple_(*bound))
    order = (Notification.created_at.desc(), Notification.id.desc())
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = None
    if more:
        key = json.dumps([rows[-1].created_at.isoformat(), rows[-1].id]).encode()
        next_cursor = base64.urlsafe_b64encode(key).decode().rstrip("=")
    return NotificationPage(
        rows=rows, next_cursor=next_cursor, unread=unread_count(session=session, user=user)
    )


def mark_all_read(*, session, user: User, now: datetime | None = None) -> int:
    """全部标为已读: every unread notification I may see; returns how many changed."""
    result = session.execute(
        sa.update(Notification)
        .where(_visible_notifications(session, user), Notification.read_at.is_(None))
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- operations ------------------------------------------------------------------------------


def _task(session, task_id: str, *, refresh: bool = False) -> HumanTask:
    query = sa.select(HumanTask).filter_by(id=task_id)
    if refresh:
        query = query.execution_options(populate_existing=True)
    task = session.scalar(query)
    if task is None:
        raise TaskNotFound(task_id)
    return task


def _open_task(session, task_id: str) -> HumanTask:
    """The open task every inbox operation starts from; refused while its instance is 挂起.
    Takes the instance's row lock first, as complete_task does, then re-reads both: a
    suspend committed meanwhile is seen, and one coming later waits for this unit of work
    (an unlocked read would let 挂起 commit between the check and the write)."""
    instance = lock_instance(session, _task(session, task_id).instance_id)
    task = _task(session, task_id, refresh=True)
    if task.state != "open":
        raise TaskNotOpen(task_id, task.state)
    refuse_if_suspended(instance)
    return task


def _pending_delegation(session, task_id: str) -> Delegation | None:
    return session.scalar(
        sa.select(Delegation).where(Delegation.task_id == task_id, Delegation.answered_at.is_(None))
    )


def _require_assignee(session, task: HumanTask, user: User, action: str) -> None:
    if task.parent_task_id is not None:
        raise SignOnly(task.id)  # a 加签 step is signed, nothing else
    if task.assignee != user.username:
        raise NotAssignee(task.id, task.assignee, action)
    pending = _pending_delegation(session, task.id)
    if pending is not None:
        raise DelegationPending(task.id, pending.delegate)


def _active_user(session, username: str, actor: User) -> User:
    target = get_user(session=session, username=username)
    if target is None or not target.active:
        raise UnknownUser(username)
    if target.username == actor.username:
        raise InvalidTarget(username)
    return target


def _log(
    session, task: HumanTask, action: str, actor: User, *, target=None, reason=None, now=None
) -> TaskAction:
    entry = TaskAction(
        task_id=task.id,
        instance_id=task.instance_id,
        action=action,
        actor=actor.username,
        target_user=target,
        reason=reason,
        at=now or utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def _label(task: HumanTask) -> str:
    return task.title or task.element_id


def can_complete(*, session, user: User, task: HumanTask) -> bool:
    """True when `user` may complete the task now; otherwise raises why not."""
    if task.state != "open":
        raise TaskNotOpen(task.id, task.state)
    if task.parent_task_id is not None:  # a 加签 step: its signer signs it
        if task.assignee != user.username:
            raise NotAssignee(task.id, task.assignee, "签署")
        return True
    _require_assignee(session, task, user, "办理该任务")
    signers = session.execute(
        sa.select(HumanTask.assignee, HumanTask.sign_position).where(
            HumanTask.parent_task_id == task.id, HumanTask.state == "open"
        )
    ).all()
    if session.get(HeldDecision, task.id) is not None:
        raise DecisionHeld(task.id, [name for name, position in signers if position == "after"])
    if signers:
        raise SignersPending(task.id, [name for name, _position in signers])
    return True


def claim(*, session, user: User, task_id: str, now: datetime | None = None) -> HumanTask:
    """签收: take an unclaimed task of one of my groups. Of two concurrent claims one wins."""
    task = _open_task(session, task_id)
    if task.candidate_group not in user.groups:
        name = group_name(session=session, code=task.candidate_group)
        raise NotCandidate(task_id, task.candidate_group, name.label() if name else None)
    from backend.authz.scope import sees_task

    if not sees_task(user, task, session=session):  # out of the data scope: as if it did not exist
        raise TaskNotFound(task_id)
    result = session.execute(
        sa.update(HumanTask)
        .where(HumanTask.id == task_id, HumanTask.assignee.is_(None), HumanTask.state == "open")
        .values(assignee=user.username)
        .execution_options(synchronize_session=False)
    )
    task = _task(session, task_id, refresh=True)
    if result.rowcount != 1:
        if task.state != "open":
            raise TaskNotOpen(task_id, task.state)
        raise AlreadyClaimed(task_id, task.assignee)
    _log(session, task, "claim", user, now=now)
    return task


def unclaim(*, session, user: User, task_id: str, reason: str | None = None, now=None) -> HumanTask:
    """退回组队列: give a claimed task back to its candidate group."""
    task = _open_task(session, task_id)
    _require_assignee(session, task, user, "退回签收")
    if not task.candidate_group:
        raise NotInGroupQueue(task_id)
    task.assignee = None
    _log(session, task, "unclaim", user, reason=reason, now=now)
    group = users_in_group(session=session, group=task.candidate_group)
    notify(
        session=session,
        users=[u.username for u in group if u.username != user.username],
        kind="new_task",
        title=f"任务「{_label(task)}」已退回待签收" + (f": {reason}" if reason else ""),
        instance_id=task.instance_id,
        task_id=task.id,
        now=now,
    )
    return task


def transfer(*, session, user: User, task_id: str, to: str, reason: str, now=None) -> HumanTask:
    """转办: hand the task to someone else, who then decides it."""
    task = _open_task(session, task_id)
    _require_assignee(session, task, user, "转办")
    if not (reason or "").strip():
        raise ReasonRequired("转办")
    target = _active_user(session, to, user)
    task.assignee = target.username
    _log(session, task, "transfer", user, target=target.username, reason=reason, now=now)
    notify(
        session=session,
        users=[target.username],
        kind="transferred",
        title=f"{user.display_name} 将任务「{_label(task)}」转办给您: {reason}",
        instance_id=task.instance_id,
        task_id=task.id,
        now=now,
    )
    return task


def delegate(*, session, user: User, task_id: str, to: str, reason: str, now=None) -> Delegation:
    """委托: ask someone for an opinion; the task is theirs until they answer, then mine again."""
    task = _open_task(session, task_id)
    _require_assignee(session, task, user, "委托")
    if not (reason or "").strip():
        raise ReasonRequired("委托")
    target = _active_user(session, to, user)
    delegation = Delegation(
        task_id=task.id, owner=user.username, delegate=target.username, reason=reason, at=now or utcnow()
    )
    session.add(delegation)
    task.assignee = target.username
    _log(session, task, "delegate", user, target=target.username, reason=reason, now=now)
    notify(
        session=session,
        users=[target.username],
        kind="delegated",
        title=f"{user.display_name} 委托您对任务「{_label(task)}」提出意见: {reason}",
        instance_id=task.instance_id,
        task_id=task.id,
        now=now,
    )
    return delegation


def answer_delegation(*, session, user: User, task_id: str, opinion: str, now=None) -> Delegation:
    """The delegate's opinion; the task goes back to its owner, who decides."""
    task = _open_task(session, task_id)
    delegation = _pending_delegation(session, task_id)
    if delegation is None or delegation.delegate != user.username:
        raise NoPendingDelegation(task_id)
    if not (opinion or "").strip():
        raise ReasonRequired("意见")
    delegation.answered_at, delegation.opinion = now or utcnow(), opinion
    task.assignee = delegation.owner
    _log(session, task, "delegate_return", user, target=delegation.owner, reason=opinion, now=now)
    notify(
        session=session,
        users=[delegation.owner],
        kind="returned",
        title=f"{user.display_name} 已对任务「{_label(task)}」提出意见, 请您办理",
        instance_id=task.instance_id,
        task_id=task.id,
        now=now,
    )
    return delegation


def cc(
    *, session, user: User, task_id: str, to: list[str], note: str | None = None, now=None
) -> list[TaskCopy]:
    """抄送: show the task to people for information; they cannot act on it."""
    task = _open_task(session, task_id)
    _require_assignee(session, task, user, "抄送")
    targets = [_active_user(session, username, user) for username in dict.fromkeys(to)]
    if not targets:
        raise UnknownUser("")
    at = now or utcnow()
    copies = []
    for target in targets:
        copy = TaskCopy(
            task_id=task.id,
            instance_id=task.instance_id,
            to_user=target.username,
            from_user=user.username,
            note=note,
            at=at,
        )
        session.add(copy)
        copies.append(copy)
        _log(session, task, "cc", user, target=target.username, reason=note, now=at)
    notify(
        session=session,
        users=[t.username for t in targets],
        kind="cc",
        title=f"{user.display_name} 抄送给您任务「{_label(task)}」" + (f": {note}" if note else ""),
        instance_id=task.instance_id,
        task_id=task.id,
        now=at,
    )
    return copies


def _involved(session, user: User, task: HumanTask) -> bool:
    """Started the instance, acted on or was given one of its tasks, or got a copy (whatever
    the data scope: what was given or sent to a person stays readable to them); or heads the
    department of the task's candidate group, within their data scope."""
    from backend.authz.scope import sees_task

    name = user.username
    department, dot, _role = (task.candidate_group or "").partition(".")
    head = dot and department != "unit" and f"{department}.head" in user.groups
    if head and sees_task(user, task, session=session):
        return True
    checks = [
        sa.select(ProcessInstance.id).where(
            ProcessInstance.id == task.instance_id, ProcessInstance.started_by == name
        ),
        sa.select(HumanTask.id).where(
            HumanTask.instance_id == task.instance_id,
            sa.or_(HumanTask.assignee == name, HumanTask.completed_by == name),
        ),
        sa.select(TaskAction.id).where(
            TaskAction.instance_id == task.instance_id,
            sa.or_(TaskAction.actor == name, TaskAction.target_user == name),
        ),
        sa.select(TaskCopy.id).where(TaskCopy.instance_id == task.instance_id, TaskCopy.to_user == name),
    ]
    return bool(session.scalar(sa.select(sa.or_(*(sa.exists(check) for check in checks)))))


def urge(
    *, session, user: User, task_id: str, reason: str | None = None, now: datetime | None = None
) -> TaskAction:
    """催办: remind whoever holds the task (or its group); at most once per working day."""
    now = now or utcnow()
    task = _open_task(session, task_id)
    if not _involved(session, user, task):
        raise NotInvolved(task_id)
    last = session.scalar(
        sa.select(sa.func.max(TaskAction.at)).where(
            TaskAction.task_id == task_id, TaskAction.action == "urge"
        )
    )
    if last is not None:
        calendar = get_calendar(session=session)
        if calendar.working_days_between(last, now) < 1:
            raise UrgedTooSoon(task_id, last)
    entry = _log(session, task, "urge", user, target=task.assignee, reason=reason, now=now)
    if task.assignee:
        recipients = [task.assignee]
    elif task.candidate_group:
        recipients = [u.username for u in users_in_group(session=session, group=task.candidate_group)]
    else:
        recipients = []
    notify(
        session=session,
        users=[r for r in recipients if r != user.username],
        kind="urged",
        title=f"{user.display_name} 催办任务「{_label(task)}」" + (f": {reason}" if reason else ""),
        instance_id=task.instance_id,
        task_id=task.id,
        now=now,
    )
    return entry
