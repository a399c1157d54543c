"""Named operations that BPMN service tasks may call.

Domain packages fill the registry in their operations.py with `@operation("domain.name")`.
A BPMN service task names an operation and passes parameters (sandboxed expressions);
it can never carry code with side effects of its own. An unknown name is refused at deploy.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

OperationFn = Callable[..., Any]


@dataclass(frozen=True)
class Operation:
    name: str
    fn: OperationFn
    description: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class OperationContext:
    """What an operation may know about the call: the unit of work and the instance."""

    session: Any
    instance_id: int
    process_key: str
    business_key: str | None
    data: dict[str, Any]  # a copy of the calling task's data
    now: datetime
    actor: str | None = None  # who caused this engine run (the completing user, "scheduler", ...)


_OPERATIONS: dict[str, Operation] = {}


class UnknownOperation(LookupError):
    def __init__(self, name: str):
        self.name = name
        super().__init__(f"未注册的服务操作: {name}")


def operation(name: str, *, description: str = "", params: tuple[str, ...] = ()):
    """Register `fn(ctx: OperationContext, **params) -> JSON-able` under `name`."""

    def register(fn: OperationFn) -> OperationFn:
        if name in _OPERATIONS and _OPERATIONS[name].fn is not fn:
            raise ValueError(f"operation {name} registered twice")
        _OPERATIONS[name] = Operation(name, fn, description or (fn.__doc__ or "").strip(), params)
        return fn

    return register


def get(name: str) -> Operation:
    try:
        return _OPERATIONS[name]
    except KeyError:
        raise UnknownOperation(name) from None


def names() -> set[str]:
    return set(_OPERATIONS)


def call(name: str, params: dict[str, Any], context: OperationContext) -> Any:
    return get(name).fn(context, **params)


# Called by service.complete_task in the completing transaction, after the task is closed
# and its history written and before the engine runs on: `fn(*, session, task, data)`.
# Domains record what a decision means to them here (e.g. an approval opinion).
TaskCompletedListener = Callable[..., None]
_TASK_COMPLETED: list[TaskCompletedListener] = []


def on_task_completed(fn: TaskCompletedListener) -> TaskCompletedListener:
    if fn not in _TASK_COMPLETED:
        _TASK_COMPLETED.append(fn)
    return fn


def task_completed_listeners() -> tuple[TaskCompletedListener, ...]:
    return tuple(_TASK_COMPLETED)


@dataclass(frozen=True)
class OpenCause:
    """Why an engine run (re)opened user tasks, when it is not the flow simply moving on:
    kind "returned" (退回) or "withdrawn" (撤回), by whom and with what reason."""

    kind: str
    actor: str | None = None
    reason: str | None = None


# Called by host.save once per save that opened user tasks, after their human_task rows are
# flushed: `fn(*, session, tasks, cause)` with the new rows and an OpenCause or None.
# Domains tell people about their new work here (the inbox's notifications).
TasksOpenedListener = Callable[..., None]
_TASKS_OPENED: list[TasksOpenedListener] = []


def on_tasks_opened(fn: TasksOpenedListener) -> TasksOpenedListener:
    if fn not in _TASKS_OPENED:
        _TASKS_OPENED.append(fn)
    return fn


def tasks_opened_listeners() -> tuple[TasksOpenedListener, ...]:
    return tuple(_TASKS_OPENED)


# Called by service.stamp_open_tasks when a time limit marks open tasks:
# `fn(*, session, tasks, mark, escalated_to, now)`, mark "reminded" or "escalated";
# `escalated_to` is the group or username the escalation goes to (None for reminders).
TasksMarkedListener = Callable[..., None]
_TASKS_MARKED: list[TasksMarkedListener] = []


def on_tasks_marked(fn: TasksMarkedListener) -> TasksMarkedListener:
    if fn not in _TASKS_MARKED:
        _TASKS_MARKED.append(fn)
    return fn


def tasks_marked_listeners() -> tuple[TasksMarkedListener, ...]:
    return tuple(_TASKS_MARKED)


# Called where a domain fact that integrators may subscribe to happens (批复 issued, payment
# disbursed, ticket overdue), in the transaction that causes it: `fn(*, session, kind, data)`.
# The outbound webhooks listen here; the emitting domains never import them.
DomainEventListener = Callable[..., None]
_DOMAIN_EVENTS: list[DomainEventListener] = []


def on_domain_event(fn: DomainEventListener) -> DomainEventListener:
    if fn not in _DOMAIN_EVENTS:
        _DOMAIN_EVENTS.append(fn)
    return fn


def domain_event(*, session, kind: str, data: dict) -> None:
    for listener in tuple(_DOMAIN_EVENTS):
        listener(session=session, kind=kind, data=data)
