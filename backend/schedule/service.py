"""The rules of a project's WBS and the computed schedule figures (issue 10's KPIs reuse them).

Rules (checked on every write, Chinese `ScheduleError` otherwise):
- Codes are dotted paths "1", "1.2", "1.2.3"; an item's parent is the item whose code is its
  own without the last segment, and must exist first. Codes are unique per project.
- planned_end >= planned_start; weight >= 0; percent 0–100.
- A child's planned dates lie inside its parent's (start >= parent start, end <= parent end);
  a parent cannot be shortened so that a child falls outside it. Decided so that the roll-up
  and the Gantt bars nest; a late child means re-planning the parent first.
- Dependencies are finish-to-start between two items of the same project; an item cannot
  depend on itself, on its ancestor or descendant, nor close a cycle.
- Progress is recorded on leaves only; a parent's progress is always computed.
- A linked payment milestone (合同付款节点) must belong to a contract of the same project.
- Items added after the latest baseline have no planned progress until the next baseline.

Notation: W(a, b) = working days from date a to date b, both included, on the official
calendar (backend.workdays: holidays off, 调休 weekends on); W = 0 when b < a.
Weights w are relative within siblings; a roll-up over siblings with Σw = 0 is the plain mean.

1. Physical progress (形象进度), in %:
   P(leaf) = its percent_complete; P(parent) = Σ w_i · P(child_i) / Σ w_i;
   P(project) = the same roll-up over the top-level items.
2. Planned progress at date d, in %, from a baseline (the latest unless one is named), with the
   baseline's dates, weights and tree:
   PV(leaf, d) = 0 if d < start; 100 if d >= end; else 100 · W(start, d) / W(start, end)
   (100 when W(start, end) = 0 and d >= start); rolled up exactly as in 1.
3. Schedule deviation at d, in percentage points: SD = P − PV(d) (negative = behind plan).
4. Forecast completion at d (today) for the project: S = earliest actual start of a leaf
   (else the baseline start); rate = P / W(S, d) per working day; remaining =
   ceil((100 − P) / rate) working days; forecast end = the remaining-th working day after d
   (d itself when remaining = 0). P = 100: the latest actual end. P = 0 or W(S, d) = 0: none.
5. 预计工期偏差率 (the page's label; the cockpit's 工期偏差率 is the delay so far, backend/kpi) =
   (forecast duration − planned duration) / planned duration with
   planned duration = W(Sb, Eb) and forecast duration = W(Sb, forecast end), Sb/Eb the
   baseline start and end of the project: the delay of the forecast end measured in the
   plan's working days (0.25 = a quarter longer than planned). Rounded to 4 places.
6. Overdue at d: items whose current planned end < d and whose P < 100.
7. Critical items: the items on a longest path through the dependency graph, the length of a
   path being the sum of its items' durations W(planned start, planned end) (current plan);
   an item is critical when the longest path through it equals the longest path overall
   (zero total float), so ties mark every longest path.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from backend.audit import record
from backend.contracts.models import Contract, PaymentMilestone
from backend.db import utcnow
from backend.schedule.models import (
    WbsBaseline,
    WbsBaselineItem,
    WbsDependency,
    WbsItem,
    WbsProgress,
    WbsProgressFile,
)
from backend.workdays.service import get_calendar, local_date

HUNDRED = Decimal("100")
TWO = Decimal("0.01")
FOUR = Decimal("0.0001")


class ScheduleError(ValueError):
    """A rule of the breakdown is broken; the message is for the user (Chinese)."""


# ---------------------------------------------------------------- working days


def working_days(calendar, start: date, end: date) -> int:
    """W(start, end): working days from start to end, both included; 0 when end < start."""
    count = 0
    day = start
    while day <= end:
        if calendar.is_workday(day):
            count += 1
        day += timedelta(days=1)
    return count


def nth_working_day_after(calendar, day: date, n: int) -> date:
    """The n-th working day after day (day itself not counted); day when n == 0."""
    while n > 0:
        day += timedelta(days=1)
        if calendar.is_workday(day):
            n -= 1
    return day


# ---------------------------------------------------------------- reading


def items_of(*, session, project_id: int) -> list[WbsItem]:
    rows = session.scalars(sa.select(WbsItem).where(WbsItem.project_id == project_id)).all()
    return sorted(rows, key=lambda item: code_key(item.code))


def code_key(code: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in code.split("."))


def dependencies_of(*, session, project_id: int) -> list[tuple[int, int]]:
    ids = sa.select(WbsItem.id).where(WbsItem.project_id == project_id)
    rows = session.execute(
        sa.select(WbsDependency.predecessor_id, WbsDependency.successor_id).where(
            WbsDependency.successor_id.in_(ids)
        )
    ).all()
    return [(p, s) for p, s in rows]


def parent_code(code: str) -> str | None:
    return code.rsplit(".", 1)[0] if "." in code else None


def valid_code(code: str) -> bool:
    return bool(code) and all(part.isdigit() and not part.startswith("0") for part in code.split("."))


# ---------------------------------------------------------------- writing


def _check_fields(*, planned_start, planned_end, weight, percent=None) -> None:
    if planned_start is None or planned_end is None:
        raise ScheduleError("计划开始和计划完成日期必须填写")
    if planned_end < planned_start:
        raise ScheduleError("计划完成日期不能早于计划开始日期")
    if weight is None or Decimal(weight) < 0:
        raise ScheduleError("权重不能为负数")
    if percent is not None and not (0 <= Decimal(percent) <= 100):
        raise ScheduleError("完成百分比须在 0 到 100 之间")


def _check_inside_parent(parent: WbsItem | None, start: date, end: date) -> None:
    if parent is not None and (start < parent.planned_start or end > parent.planned_end):
        raise ScheduleError(
            f"子项的计划日期须在上级 {parent.code}（{parent.planned_start} 至 {parent.planned_end}）之内"
        )


def _check_payment_milestone(session, project_id: int, milestone_id: int | None) -> None:
    if milestone_id is None:
        return
    owner = session.scalar(
        sa.select(Contract.project_id)
        .join(PaymentMilestone, PaymentMilestone.contract_id == Contract.id)
        .where(PaymentMilestone.id == milestone_id)
    )
    if owner != project_id:
        raise ScheduleError("关联的付款节点不属于本项目的合同")


def _children(session, item: WbsItem) -> list[WbsItem]:
    return list(session.scalars(sa.select(WbsItem).where(WbsItem.parent_id == item.id)))


def create_item(
    *,
    session,
    project_id: int,
    code: str,
    name: str,
    planned_start: date,
    planned_end: date,
    weight: Decimal = Decimal("1"),
    unit_id: int | None = None,
    responsible: str | None = None,
    deliverables: str = "",
    is_milestone: bool = False,
    payment_milestone_id: int | None = None,
    by: str | None = None,
    audit: bool = True,
) -> WbsItem:
    code = (code or "").strip()
    if not valid_code(code):
        raise ScheduleError(f"编码“{code}”格式不正确，应为 1、1.2、1.2.3 这样的数字分级编码")
    if not (name or "").strip():
        raise ScheduleError("名称必须填写")
    _check_fields(planned_start=planned_start, planned_end=planned_end, weight=weight)
    existing = session.scalar(
        sa.select(WbsItem).where(WbsItem.project_id == project_id, WbsItem.code == code)
    )
    if existing is not None:
        raise ScheduleError(f"编码 {code} 已存在")
    parent = None
    if parent_code(code):
        parent = session.scalar(
            sa.select(WbsItem).where(WbsItem.project_id == project_id, WbsItem.code == parent_code(code))
        )
        if parent is None:
            raise ScheduleError(f"上级编码 {parent_code(code)} 不存在")
    _check_inside_parent(parent, planned_start, planned_end)
    _check_payment_milestone(session, project_id, payment_milestone_id)
    item = WbsItem(
        project_id=project_id,
        parent_id=parent.id if parent else None,
        code=code,
        name=name.strip(),
        planned_start=planned_start,
        planned_end=planned_end,
        weight=Decimal(weight),
        unit_id=unit_id,
        responsible=responsible or None,
        deliverables=deliverables or "",
        is_milestone=bool(is_milestone),
        payment_milestone_id=payment_milestone_id,
    )
    session.add(item)
    session.flush()
    if audit:
        record(
            "wbs.change",
            object_type="wbs_item",
            object_id=item.id,
            detail={"op": "create", "code": code},
            username=by,
            session=session,
        )
    return item


UPDATABLE = {
    "name",
    "planned_start",
    "planned_end",
    "weight",
    "unit_id",
    "responsible",
    "deliverables",
    "is_milestone",
    "payment_milestone_id",
}


def update_item(*, session, item: WbsItem, by: str | None = None, **changes) -> WbsItem:
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    start = changes.get("planned_start", item.planned_start)
    end = changes.get("planned_end", item.planned_end)
    weight = changes.get("weight", item.weight)
    _check_fields(planned_start=start, planned_end=end, weight=weight)
    if "name" in changes and not (changes["name"] or "").strip():
        raise ScheduleError("名称必须填写")
    _check_inside_parent(item.parent, start, end)
    if changes.get("payment_milestone_id") is not None:
        _check_payment_milestone(session, item.project_id, changes["payment_milestone_id"])
    for child in _children(session, item):
        if child.planned_start < start or child.planned_end > end:
            raise ScheduleError(f"下级 {child.code} 的计划日期将超出本项，请先调整下级")
    # Old and new values in the audit detail (the long deliverables text by name only).
    was = {key: str(getattr(item, key)) for key in changes if key != "deliverables"}
    for key, value in changes.items():
        setattr(item, key, Decimal(value) if key == "weight" else value)
    session.flush()
    record(
        "wbs.change",
        object_type="wbs_item",
        object_id=item.id,
        detail={
            "op": "update",
            "code": item.code,
            "fields": sorted(changes),
            "changes": {key: [old, str(getattr(item, key))] for key, old in was.items()},
        },
        username=by,
        session=session,
    )
    return item


def _reaches(edges: dict[int, set[int]], start: int, target: int) -> bool:
    stack, seen = [start], set()
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(edges.get(node, ()))
    return False


def _ancestors(item: WbsItem) -> set[int]:
    found = set()
    node = item.parent
    while node is not None:
        found.add(node.id)
        node = node.parent
    return found


def add_dependency(
    *, session, predecessor: WbsItem, successor: WbsItem, by: str | None = None, audit: bool = True
) -> WbsDependency:
    if predecessor.project_id != successor.project_id:
        raise ScheduleError("前置任务须属于同一项目")
    if predecessor.id == successor.id:
        raise ScheduleError("任务不能依赖自身")
    if predecessor.id in _ancestors(successor) or successor.id in _ancestors(predecessor):
        raise ScheduleError(f"{predecessor.code} 与 {successor.code} 是上下级关系，不能设为前置任务")
    edges: dict[int, set[int]] = defaultdict(set)
    for p, s in dependencies_of(session=session, project_id=successor.project_id):
        if (p, s) == (predecessor.id, successor.id):
            raise ScheduleError(f"{predecessor.code} 已是 {successor.code} 的前置任务")
        edges[p].add(s)
    if _reaches(edges, successor.id, predecessor.id):
        raise ScheduleError(f"{predecessor.code} → {successor.code} 会形成循环依赖")
    dep = WbsDependency(predecessor_id=predecessor.id, successor_id=successor.id)
    session.add(dep)
    session.flush()
    if audit:
        record(
            "wbs.change",
            object_type="wbs_item",
            object_id=successor.id,
            detail={"op": "dependency", "from": predecessor.code, "to": successor.code},
            username=by,
            session=session,
        )
    return dep


def record_progress(
    *,
    session,
    item: WbsItem,
    percent,
    by: str | None,
    note: str = "",
    actual_start: date | None = None,
    actual_end: date | None = None,
    today: date | None = None,
    files: list[tuple[str, str]] | tuple = (),
) -> WbsProgress:
    """A leaf's new percent complete, with evidence `files` ((sha256, name) of stored blobs).
    The first progress above 0 sets the actual start (today unless given); reaching 100 sets
    the actual end (today unless given). "Today" is the Asia/Shanghai date: a report made
    at 07:00 in Beijing is that day's, not the UTC day before. Actual dates are not in the
    future; an actual end needs 100 %. Checked before anything changes."""
    if _children(session, item):
        raise ScheduleError("只能对最末级任务填报进度，上级进度由下级汇总")
    try:
        percent = Decimal(str(percent)).quantize(TWO, ROUND_HALF_UP)
    except ArithmeticError as exc:
        raise ScheduleError("完成百分比须为数字") from exc
    if not (0 <= percent <= 100):
        raise ScheduleError("完成百分比须在 0 到 100 之间")
    today = today or local_date(utcnow())
    if actual_end is not None and percent < HUNDRED:
        raise ScheduleError("完成百分比为 100 时才能填写实际完成日期")
    for day in (actual_start, actual_end):
        if day is not None and day > today:
            raise ScheduleError(f"实际日期不能晚于今天（{today}）")
    start = actual_start if actual_start is not None else item.actual_start
    if start is None and percent > 0:
        start = today
    end = (actual_end or item.actual_end or today) if percent == HUNDRED else None
    if start and end and end < start:
        raise ScheduleError("实际完成日期不能早于实际开始日期")
    item.actual_start, item.actual_end = start, end
    item.percent_complete = percent
    entry = WbsProgress(
        item_id=item.id,
        percent=percent,
        note=(note or "").strip(),
        actual_start=start,
        actual_end=end,
        recorded_by=by,
    )
    session.add(entry)
    session.flush()
    names: dict[str, str] = {}
    for sha256, name in files:
        names.setdefault(sha256, name)
    session.add_all(WbsProgressFile(progress_id=entry.id, sha256=h, name=n) for h, n in names.items())
    session.flush()
    record(
        "wbs.progress",
        object_type="wbs_item",
        object_id=item.id,
        detail={"code": item.code, "percent": str(percent), "files": len(names)},
        username=by,
        session=session,
    )
    return entry


def create_baseline(*, session, project_id: int, by: str | None, reason: str = "") -> WbsBaseline:
    """Snapshot the current plan as the next numbered baseline; earlier ones are kept."""
    items = items_of(session=session, project_id=project_id)
    if not items:
        raise ScheduleError("尚无任务分解，不能建立基线")
    number = (
        session.scalar(sa.select(sa.func.max(WbsBaseline.number)).where(WbsBaseline.project_id == project_id))
        or 0
    ) + 1
    if number > 1 and not (reason or "").strip():
        raise ScheduleError("重新建立基线须说明原因")
    baseline = WbsBaseline(project_id=project_id, number=number, reason=reason or "", created_by=by)
    session.add(baseline)
    session.flush()
    for item in items:
        session.add(
            WbsBaselineItem(
                baseline_id=baseline.id,
                item_id=item.id,
                parent_item_id=item.parent_id,
                code=item.code,
                planned_start=item.planned_start,
                planned_end=item.planned_end,
                weight=item.weight,
            )
        )
    session.flush()
    record(
        "wbs.baseline",
        object_type="project",
        object_id=project_id,
        detail={"number": number, "reason": reason or ""},
        username=by,
        session=session,
    )
    return baseline


def baseline_of(*, session, project_id: int, number: int | None = None) -> WbsBaseline | None:
    query = sa.select(WbsBaseline).where(WbsBaseline.project_id == project_id)
    if number is not None:
        return session.scalar(query.where(WbsBaseline.number == number))
    return session.scalar(query.order_by(WbsBaseline.number.desc()).limit(1))


# ---------------------------------------------------------------- computing


def _roll_up(children: dict, weights: dict, leaf_value, node) -> Decimal:
    kids = children.get(node, [])
    if not kids:
        return Decimal(leaf_value(node))
    values = [(Decimal(weights[k]), _roll_up(children, weights, leaf_value, k)) for k in kids]
    total = sum(w for w, _ in values)
    if total == 0:
        return sum(v for _, v in values) / len(values)
    return sum(w * v for w, v in values) / total


def item_progress(items: list[WbsItem]) -> dict[int | None, Decimal]:
    """Formula 1 for every item id, and the project under the key None; 2 places."""
    children: dict = defaultdict(list)
    by_id = {item.id: item for item in items}
    for item in items:
        children[item.parent_id].append(item.id)
    weights = {item.id: item.weight for item in items}

    def leaf(node):
        return by_id[node].percent_complete

    result = {node: _roll_up(children, weights, leaf, node).quantize(TWO, ROUND_HALF_UP) for node in by_id}
    result[None] = (
        _roll_up(children, weights, leaf, None).quantize(TWO, ROUND_HALF_UP) if items else Decimal("0.00")
    )
    return result


def leaf_planned_percent(calendar, start: date, end: date, at: date) -> Decimal:
    """Formula 2 for one leaf (unrounded)."""
    if at < start:
        return Decimal(0)
    if at >= end:
        return HUNDRED
    total = working_days(calendar, start, end)
    if total == 0:
        return HUNDRED
    return HUNDRED * working_days(calendar, start, at) / total


def planned_progress(*, session, baseline: WbsBaseline, at: date) -> dict[int | None, Decimal]:
    """Formula 2 for every baselined item id, and the project under None; 2 places."""
    calendar = get_calendar(session=session)
    rows = baseline.items
    children: dict = defaultdict(list)
    by_id = {row.item_id: row for row in rows}
    for row in rows:
        children[row.parent_item_id].append(row.item_id)
    weights = {row.item_id: row.weight for row in rows}

    def leaf(node):
        row = by_id[node]
        return leaf_planned_percent(calendar, row.planned_start, row.planned_end, at)

    result = {node: _roll_up(children, weights, leaf, node).quantize(TWO, ROUND_HALF_UP) for node in by_id}
    result[None] = _roll_up(children, weights, leaf, None).quantize(TWO, ROUND_HALF_UP)
    return result


@dataclass
class Forecast:
    start: date | None  # S of formula 4
    end: date | None  # forecast completion
    planned_days: int  # W(Sb, Eb)
    forecast_days: int | None  # W(Sb, forecast end)
    deviation_rate: Decimal | None  # 工期偏差率, formula 5


def forecast(*, session, items: list[WbsItem], baseline: WbsBaseline, at: date) -> Forecast:
    calendar = get_calendar(session=session)
    parents = {item.parent_id for item in items}
    leaves = [item for item in items if item.id not in parents]
    sb = min(row.planned_start for row in baseline.items)
    eb = max(row.planned_end for row in baseline.items)
    planned_days = working_days(calendar, sb, eb)
    progress = item_progress(items)[None]
    starts = [leaf.actual_start for leaf in leaves if leaf.actual_start]
    start = min(starts) if starts else sb
    end = None
    if progress >= HUNDRED:
        ends = [leaf.actual_end for leaf in leaves if leaf.actual_end]
        end = max(ends) if ends else at
    else:
        elapsed = working_days(calendar, start, at)
        if progress > 0 and elapsed > 0:
            # (100 − P) / (P / elapsed), multiplied first: dividing by a rounded rate can put
            # an exact 63 at 63.000…01 and ceil it to 64.
            remaining = math.ceil((HUNDRED - progress) * elapsed / progress)
            end = nth_working_day_after(calendar, at, remaining)
    if end is None or planned_days == 0:
        return Forecast(start, end, planned_days, None, None)
    forecast_days = working_days(calendar, sb, end)
    rate = (Decimal(forecast_days - planned_days) / planned_days).quantize(FOUR, ROUND_HALF_UP)
    return Forecast(start, end, planned_days, forecast_days, rate)


def overdue_items(items: list[WbsItem], at: date) -> list[WbsItem]:
    """Formula 6."""
    progress = item_progress(items)
    return [item for item in items if item.planned_end < at and progress[item.id] < HUNDRED]


def critical_items(*, session, items: list[WbsItem], dependencies: list[tuple[int, int]]) -> set[int]:
    """Formula 7: ids of the items with zero total float."""
    if not items:
        return set()
    calendar = get_calendar(session=session)
    duration = {item.id: working_days(calendar, item.planned_start, item.planned_end) for item in items}
    succ: dict[int, list[int]] = defaultdict(list)
    pred: dict[int, list[int]] = defaultdict(list)
    for p, s in dependencies:
        succ[p].append(s)
        pred[s].append(p)
    order = _topological(list(duration), succ, pred)
    forward: dict[int, int] = {}  # longest path ending at the node, node included
    for node in order:
        forward[node] = duration[node] + max((forward[p] for p in pred[node]), default=0)
    backward: dict[int, int] = {}  # longest path starting at the node, node included
    for node in reversed(order):
        backward[node] = duration[node] + max((backward[s] for s in succ[node]), default=0)
    longest = max(forward.values())
    return {node for node in order if forward[node] + backward[node] - duration[node] == longest}


def _topological(nodes: list[int], succ, pred) -> list[int]:
    indegree = {node: len(pred[node]) for node in nodes}
    ready = [node for node in nodes if indegree[node] == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for s in succ[node]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    if len(order) != len(nodes):
        raise ScheduleError("任务依赖存在循环")
    return order


@dataclass
class Summary:
    progress: dict  # formula 1, item id → %, None → project
    planned: dict | None  # formula 2 (None without a baseline)
    deviation: Decimal | None  # formula 3, project
    forecast: Forecast | None
    overdue: list
    critical: set


def summary(*, session, project_id: int, at: date, baseline_number: int | None = None) -> Summary:
    """Every figure of the project at date `at` in one call (the page, issue 10)."""
    items = items_of(session=session, project_id=project_id)
    progress = item_progress(items)
    baseline = baseline_of(session=session, project_id=project_id, number=baseline_number)
    planned = deviation = fc = None
    if baseline is not None and baseline.items:
        planned = planned_progress(session=session, baseline=baseline, at=at)
        deviation = progress[None] - planned[None]
        fc = forecast(session=session, items=items, baseline=baseline, at=at)
    deps = dependencies_of(session=session, project_id=project_id)
    return Summary(
        progress=progress,
        planned=planned,
        deviation=deviation,
        forecast=fc,
        overdue=overdue_items(items, at),
        critical=critical_items(session=session, items=items, dependencies=deps),
    )


# ---------------------------------------------------------------- editing: Gantt and forms
#
# Dragging in the Gantt chart: only leaves move. A parent's bar is the span its children
# need (children must lie inside it), so dragging it would either break that rule for every
# child or silently shift a whole subtree and its dependencies; a parent is re-planned in its
# edit form instead. Moving an item never moves its successors: a finish-to-start link that
# the move breaks is reported (dependency_conflicts) for the planner to resolve.


def dependency_conflicts(*, session, project_id: int, item_id: int | None = None) -> list[dict]:
    """Finish-to-start links whose successor starts on or before its predecessor's planned
    end (dates are whole days, both included); only the links touching item_id when given."""
    by_id = {item.id: item for item in items_of(session=session, project_id=project_id)}
    found = []
    for p, s in dependencies_of(session=session, project_id=project_id):
        if item_id is not None and item_id not in (p, s):
            continue
        pred, succ = by_id[p], by_id[s]
        if succ.planned_start <= pred.planned_end:
            found.append(
                {
                    "predecessor": pred.id,
                    "predecessor_code": pred.code,
                    "predecessor_end": pred.planned_end.isoformat(),
                    "successor": succ.id,
                    "successor_code": succ.code,
                    "successor_start": succ.planned_start.isoformat(),
                }
            )
    return sorted(found, key=lambda c: (code_key(c["predecessor_code"]), code_key(c["successor_code"])))


def reschedule(
    *, session, item: WbsItem, planned_start: date, planned_end: date, by: str | None
) -> list[dict]:
    """The Gantt drag: new planned dates of a leaf (update_item's checks). Returns the
    dependency conflicts of the item afterwards; successors are never moved."""
    if _children(session, item):
        raise ScheduleError(
            f"{item.code} 是上级任务，其日期跨度由下级决定，不能拖动；请调整下级或在编辑页修改"
        )
    update_item(session=session, item=item, by=by, planned_start=planned_start, planned_end=planned_end)
    return dependency_conflicts(session=session, project_id=item.project_id, item_id=item.id)


def delete_item(*, session, item: WbsItem, by: str | None) -> None:
    """Remove a leaf that nobody has reported on and no baseline holds (a baseline is a
    record of the plan: it keeps its items)."""
    if _children(session, item):
        raise ScheduleError(f"{item.code} 有下级任务，只能删除最末级任务")
    reported = session.scalar(sa.select(WbsProgress.id).where(WbsProgress.item_id == item.id).limit(1))
    if reported is not None or item.percent_complete:
        raise ScheduleError(f"{item.code} 已有进度填报记录，不能删除")
    baselined = session.scalar(
        sa.select(sa.func.min(WbsBaseline.number))
        .join(WbsBaselineItem, WbsBaselineItem.baseline_id == WbsBaseline.id)
        .where(WbsBaselineItem.item_id == item.id)
    )
    if baselined is not None:
        raise ScheduleError(f"{item.code} 已纳入基线 {baselined}，不能删除")
    if _referenced_elsewhere(session, item):
        raise ScheduleError(f"{item.code} 已被其他记录（如施工日志）引用，不能删除")
    session.execute(
        sa.delete(WbsDependency).where(
            sa.or_(WbsDependency.predecessor_id == item.id, WbsDependency.successor_id == item.id)
        )
    )
    record(
        "wbs.change",
        object_type="wbs_item",
        object_id=item.id,
        detail={"op": "delete", "code": item.code, "name": item.name},
        username=by,
        session=session,
    )
    session.delete(item)
    session.flush()


def _referenced_elsewhere(session, item: WbsItem) -> bool:
    """Whether a row of another domain's table points at the item (e.g. a daily log naming
    it): read from the mapped tables' foreign keys, so this package imports none of them."""
    for table in WbsItem.metadata.sorted_tables:
        if table.name in ("wbs_item", "wbs_dependency"):
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "wbs_item":
                hit = session.execute(sa.select(fk.parent).where(fk.parent == item.id).limit(1)).first()
                if hit is not None:
                    return True
    return False


def remove_dependency(*, session, predecessor: WbsItem, successor: WbsItem, by: str | None) -> None:
    dep = session.scalar(
        sa.select(WbsDependency).where(
            WbsDependency.predecessor_id == predecessor.id, WbsDependency.successor_id == successor.id
        )
    )
    if dep is None:
        raise ScheduleError(f"{predecessor.code} 不是 {successor.code} 的前置任务")
    session.delete(dep)
    session.flush()
    record(
        "wbs.change",
        object_type="wbs_item",
        object_id=successor.id,
        detail={"op": "dependency_remove", "from": predecessor.code, "to": successor.code},
        username=by,
        session=session,
    )


def baselines_of(*, session, project_id: int) -> list[WbsBaseline]:
    """The baseline history, newest first."""
    return list(
        session.scalars(
            sa.select(WbsBaseline)
            .where(WbsBaseline.project_id == project_id)
            .order_by(WbsBaseline.number.desc())
        )
    )


def gantt_rows(*, session, project_id: int, at: date) -> dict:
    """The Gantt chart's data at date `at` (JSON-ready): one row per item in code order with
    its current plan, computed progress (parents rolled up, formula 1), predecessor ids and
    flags (critical: formula 7, overdue: formula 6), the latest baseline's dates of each item,
    and the dependency conflicts of the plan."""
    items = items_of(session=session, project_id=project_id)
    progress = item_progress(items)
    deps = dependencies_of(session=session, project_id=project_id)
    critical = critical_items(session=session, items=items, dependencies=deps)
    overdue = {item.id for item in overdue_items(items, at)}
    parents = {item.parent_id for item in items}
    predecessors: dict[int, list[int]] = defaultdict(list)
    for p, s in deps:
        predecessors[s].append(p)
    baseline = baseline_of(session=session, project_id=project_id)
    planned = {row.item_id: row for row in baseline.items} if baseline is not None else {}
    rows = []
    for item in items:
        base = planned.get(item.id)
        rows.append(
            {
                "id": item.id,
                "code": item.code,
                "name": item.name,
                "start": item.planned_start.isoformat(),
                "end": item.planned_end.isoformat(),
                "progress": float(progress[item.id]),
                "dependencies": sorted(predecessors[item.id]),
                "parent_id": item.parent_id,
                "level": item.level,
                "leaf": item.id not in parents,
                "milestone": bool(item.is_milestone),
                "critical": item.id in critical,
                "overdue": item.id in overdue,
                "baseline_start": base.planned_start.isoformat() if base else None,
                "baseline_end": base.planned_end.isoformat() if base else None,
            }
        )
    return {
        "today": at.isoformat(),
        "progress": float(progress[None]),
        "baseline": None
        if baseline is None
        else {
            "number": baseline.number,
            "created_at": baseline.created_at.isoformat(),
            "created_by": baseline.created_by,
            "reason": baseline.reason,
        },
        "items": rows,
        "conflicts": dependency_conflicts(session=session, project_id=project_id),
    }
