"""A running process instance: the only place that touches BpmnWorkflow.

The host loads a `ProcessRun` from stored state under the instance's row lock, acts on
it, reads the projections it needs (ready user tasks, waiting timers and messages,
failures) and saves `dump()` in the same transaction. Nothing Spiff-typed leaves here.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from backend.engine.migration import CannotMigrate, MigrationPlan, copy_workflow, migrate_copy
from backend.engine.serialization import SERIALIZER, LazySpecs, dumps

# operation name, evaluated parameters, a copy of the task data -> JSON-able result
ServiceCaller = Callable[[str, dict[str, Any], dict[str, Any]], Any]

# A script that keeps failing in a loop of engine passes is a bug, not progress.
_MAX_PASSES = 200


class ServiceTaskFailed(Exception):
    """An operation raised; carries the real cause (Spiff would mask it as NameError 'script')."""

    def __init__(self, operation: str, cause: BaseException):
        self.operation = operation
        self.cause = cause
        super().__init__(f"{operation}: {type(cause).__name__}: {cause}")


class TaskNotReady(Exception):
    """The task is not READY any more (already completed, cancelled or never existed)."""


class CannotGoBack(Exception):
    """退回/撤回 refused: the target is not an earlier step of this task's path, or the
    steps after it have already been acted on."""


@dataclass
class ReadyUserTask:
    task_id: str
    element_id: str
    title: str | None
    lane: str | None
    properties: dict[str, str]
    data: dict[str, Any]
    multi_instance_parent: str | None = None
    instance_index: int | None = None
    item: Any = None  # the multi-instance input item (e.g. the expert of this child)
    instance_count: int | None = None  # how many children the multi-instance step has in all


@dataclass
class TaskFailure:
    task_id: str
    element_id: str
    error_type: str
    message: str
    stack: str
    operation: str | None = None
    retryable: bool = False  # service-task failures are retried by the host; scripts are not


@dataclass
class WaitingTimer:
    task_id: str
    element_id: str
    due_at: datetime


@dataclass
class WaitingMessage:
    task_id: str
    element_id: str
    name: str
    properties: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Snapshot:
    """What the host projects after a run. Ready tasks are ids only: describing one
    (`ProcessRun.describe_user_task`) costs more, and the host needs it for new ones only."""

    completed: bool
    ready_task_ids: list[str]
    errored_tasks: list[str]
    waiting_timers: list[WaitingTimer]
    waiting_messages: list[WaitingMessage]
    has_waiting_events: bool


@dataclass
class ThrownMessage:
    name: str
    payload: Any
    correlations: dict[str, Any] = field(default_factory=dict)


class _HostScriptEngine(PythonScriptEngine):
    def __init__(self, environment, services: ServiceCaller):
        super().__init__(environment=environment)
        self._services = services

    def call_service(self, task, operation_name=None, operation_params=None, **_kwargs):
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        try:
            result = self._services(operation_name, params, dict(task.data))
        except Exception as exc:
            raise ServiceTaskFailed(operation_name, exc) from exc
        return json.dumps(result, default=str, ensure_ascii=False)


@lru_cache(maxsize=64)
def _split_bundle(spec_json: str) -> tuple[str, dict[str, str]]:
    """A definition's spec bundle as separate JSON texts (main spec, each called process), so
    a run parses only what it restores. Texts, not dicts: restoring consumes its dict."""
    bundle = json.loads(spec_json)
    return json.dumps(bundle["spec"]), {k: json.dumps(v) for k, v in bundle["subprocess_specs"].items()}


class ProcessRun:
    """One instance's workflow, live for the duration of one unit of work."""

    def __init__(self, workflow: BpmnWorkflow):
        self._wf = workflow
        # The host's notes about what it projected from this run (kept with a live run).
        self.memo: dict[str, Any] = {}

    # -- construction ---------------------------------------------------------------
    @classmethod
    def new(cls, spec_json: str, data: dict[str, Any], *, environment, services: ServiceCaller) -> ProcessRun:
        spec_text, called = _split_bundle(spec_json)
        workflow = BpmnWorkflow(
            SERIALIZER.from_dict(json.loads(spec_text)),
            LazySpecs(called),
            script_engine=_HostScriptEngine(environment, services),
        )
        workflow.data.update(data)
        # The start task copies workflow data into the first tasks.
        workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
        return cls(workflow)

    @classmethod
    def restore(
        cls, spec_json: str, state_json: str, *, environment, services: ServiceCaller, transform=None
    ) -> ProcessRun:
        """`transform`: applied to the stored state dict first (the host decrypts personal data)."""
        state = json.loads(state_json)
        if transform is not None:
            state = transform(state)
        spec_text, called = _split_bundle(spec_json)
        state["spec"] = json.loads(spec_text)
        state["subprocess_specs"] = LazySpecs(called)
        workflow = SERIALIZER.from_dict(state)
        workflow.script_engine = _HostScriptEngine(environment, services)
        return cls(workflow)

    def rebind(self, *, environment, services: ServiceCaller) -> None:
        """Attach this unit of work's sandbox and service caller to a kept live run."""
        self._wf.script_engine = _HostScriptEngine(environment, services)

    def dump(self, transform=None) -> str:
        """State without the spec (stored once per definition version). `transform`: applied
        to the state dict before it becomes text (the host encrypts personal data); it must
        not mutate it, the dict shares the live workflow's data."""
        state = SERIALIZER.to_dict(self._wf)
        return dumps(transform(state) if transform is not None else state)

    # -- running --------------------------------------------------------------------
    def run(self) -> list[TaskFailure]:
        """Run engine steps until only user tasks and waits remain.

        A task that raises goes to ERROR and is reported; the other branches go on.
        """
        failures: list[TaskFailure] = []
        known_errors = {t.id for t in self._wf.get_tasks(state=TaskState.ERROR)}
        for _ in range(_MAX_PASSES):
            try:
                self._wf.do_engine_steps()
                return failures
            except Exception as exc:
                errored = [t for t in self._wf.get_tasks(state=TaskState.ERROR) if t.id not in known_errors]
                if not errored:
                    raise  # not attributable to a task: a host bug, let the unit of work roll back
                for task in errored:
                    known_errors.add(task.id)
                    failures.append(_failure(task, exc))
        raise RuntimeError("engine did not settle; a task keeps failing")

    def fire_due_timers(self) -> list[TaskFailure]:
        """Timers compare with the clock only when refreshed: refresh, then run what fired."""
        self._wf.refresh_timers()
        return self.run()

    def complete_user_task(
        self, task_id: str, data: dict[str, Any], *, output: Any = None
    ) -> list[TaskFailure]:
        """Run a ready user task with its form data. For a multi-instance child, `output`
        (default: the form data) becomes its output item, e.g. one expert's vote."""
        task = self._ready_manual_task(task_id)
        task.data.update(data)
        mi = task.parent.task_spec if _is_instance_child(task) else None
        if mi is not None and mi.output_item is not None and mi.output_item.bpmn_id not in data:
            task.data[mi.output_item.bpmn_id] = data if output is None else output
        task.run()
        return self.run()

    def earlier_user_tasks(self, task_id: str) -> list[str]:
        """Completed user tasks on the path that led to this ready task, nearest first
        (the steps 退回 may send it back to)."""
        task = self._ready_manual_task(task_id)
        found, node = [], task.parent
        while node is not None:
            if node.task_spec.manual and node.state == TaskState.COMPLETED:
                found.append(str(node.id))
            node = node.parent
        return found

    def return_to(self, task_id: str, target_task_id: str, data: dict[str, Any]) -> list[TaskFailure]:
        """退回: send the instance back from a ready task to an earlier user task of its path.
        Everything after the target is removed; the target runs again with its original input
        plus `data` (e.g. who returned it and why)."""
        if target_task_id not in self.earlier_user_tasks(task_id):
            raise CannotGoBack(target_task_id)
        return self._reset_to(target_task_id, data)

    def withdraw(self, task_id: str, data: dict[str, Any]) -> list[TaskFailure]:
        """撤回: take back a completed user task while no user task after it has been completed."""
        task = self._task(task_id)
        if task is None or not task.task_spec.manual or task.state != TaskState.COMPLETED:
            raise CannotGoBack(task_id)
        later = [t for t in task if t is not task and t.task_spec.manual]
        if any(t.state == TaskState.COMPLETED for t in later):
            raise CannotGoBack(task_id)
        if not any(t.state == TaskState.READY for t in later):
            raise CannotGoBack(task_id)  # nothing waits on a person: the flow has moved on
        return self._reset_to(task_id, data)

    def _reset_to(self, task_id: str, data: dict[str, Any]) -> list[TaskFailure]:
        task = self._task(task_id)
        original = deepcopy(task.parent.data) if task.parent is not None else {}
        self._wf.reset_from_task_id(task.id, data={**original, **data})
        self._forget_removed_event_tasks()
        return self.run()

    def _forget_removed_event_tasks(self) -> None:
        """A reset drops the tasks after its target from the tree but not from the top
        workflow's event manager: a boundary timer of a dropped step would still be refreshed
        on the next run and fail on its missing parent (AttributeError in _inherit_data)."""
        workflows = {id(self._wf), *(id(sp) for sp in self._wf.subprocesses.values())}
        manager = self._wf.event_manager
        for task_id, task in list(manager.tasks.items()):
            if id(task.workflow) not in workflows or task.workflow.tasks.get(task_id) is not task:
                manager.remove_task(task)

    def update_task_data(self, task_id: str, data: dict[str, Any]) -> None:
        """Put host-computed values (e.g. a countersign tally) into a ready task before it runs."""
        self._ready_manual_task(task_id).data.update(data)

    def retry_task(self, task_id: str) -> list[TaskFailure]:
        task = self._task(task_id)
        if task is None or task.state != TaskState.ERROR:
            raise TaskNotReady(task_id)
        task._set_state(TaskState.READY)
        return self.run()

    def send_message(self, name: str, payload: Any, correlations: dict[str, Any] | None = None) -> bool:
        """Deliver a message; False when nothing in this instance waits for it."""
        event = BpmnEvent(SpiffMessageEventDefinition(name), payload=payload, correlations=correlations or {})
        try:
            self._wf.send_event(event)
        except WorkflowException:
            return False
        return True

    def cancel(self) -> None:
        self._wf.cancel()

    # -- operator repair (cockpit) --------------------------------------------------
    _ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.ERROR | TaskState.STARTED

    def _active_tasks(self) -> list:
        tasks = [
            t
            for workflow in (self._wf, *self._wf.subprocesses.values())
            for t in workflow.tasks.values()
            if t.state & self._ACTIVE
        ]
        return sorted(tasks, key=lambda t: t.last_state_change)

    def variables(self) -> dict[str, Any]:
        """What the instance knows now: the workflow data overlaid with the data of the tasks
        still to run (scripts write task data, not workflow data). The final output once completed."""
        if self._wf.is_completed():
            return dict(self.data)
        merged = dict(self._wf.data)
        for task in self._active_tasks():
            merged.update(task.data)
        return merged

    def set_variable(self, name: str, value: Any) -> Any:
        """Operator repair: set a top-level variable where later steps read it (the workflow
        data and every task not yet run: a gateway or script downstream inherits from them).
        Returns the old value (None when absent)."""
        if self._wf.is_completed():
            raise TaskNotReady(name)
        old = self.variables().get(name)
        self._wf.data[name] = deepcopy(value)
        for task in self._active_tasks():
            task.data[name] = deepcopy(value)
        return old

    # -- version migration (cockpit) ------------------------------------------------
    def plan_migration(self, new_spec_json: str) -> MigrationPlan:
        """Dry run: could this instance move to the version `new_spec_json`, and if not, why.
        Works on a copy; this run is not changed."""
        plan, _migrated = migrate_copy(copy_workflow(self._wf), new_spec_json)
        return plan

    def migrate(self, new_spec_json: str) -> MigrationPlan:
        """Move onto the new version: active tasks keep their ids, data and timers (see
        engine/migration.py). Raises CannotMigrate with the plan when it cannot move."""
        plan, migrated = migrate_copy(copy_workflow(self._wf), new_spec_json)
        if migrated is None:
            raise CannotMigrate(plan)
        migrated.script_engine = self._wf.script_engine
        self._wf = migrated
        self.memo = {}  # the host's remembered projections describe the old workflow object
        return plan

    # -- projections ----------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Everything the host projects after a run, from one walk of the task tree."""
        ready, errored = {}, []
        # The tasks dicts, not get_tasks(): no tree walk with a parent lookup per step.
        for workflow in (self._wf, *self._wf.subprocesses.values()):
            for task in workflow.tasks.values():
                if task.state == TaskState.ERROR:
                    errored.append(str(task.id))
                elif task.state == TaskState.READY and task.task_spec.manual:
                    ready[str(task.id)] = task
        waiting = list(self._waiting_event_tasks())
        return Snapshot(
            completed=self._wf.is_completed(),
            ready_task_ids=list(ready),
            errored_tasks=errored,
            waiting_timers=self._timers(waiting),
            waiting_messages=self._messages(waiting),
            has_waiting_events=bool(waiting),
        )

    @property
    def is_completed(self) -> bool:
        return self._wf.is_completed()

    @property
    def data(self) -> dict[str, Any]:
        """The workflow's data: its final output once completed."""
        if self._wf.is_completed() and self._wf.last_task is not None:
            return self._wf.last_task.data
        return self._wf.data

    def ready_user_tasks(self) -> list[ReadyUserTask]:
        return [self._ready_user_task(t) for t in self._wf.get_tasks(state=TaskState.READY, manual=True)]

    def describe_user_task(self, task_id: str) -> ReadyUserTask:
        return self._ready_user_task(self._ready_manual_task(task_id))

    def _ready_user_task(self, task) -> ReadyUserTask:
        spec = task.task_spec
        parent = task.parent if _is_instance_child(task) else None
        item, index, count = None, None, None
        if parent is not None:
            mi = parent.task_spec
            index = task.internal_data.get("key_or_index")
            count = _instance_count(parent)
            if mi.input_item is not None and mi.input_item.exists(task):
                item = mi.input_item.get(task)
            else:
                item = task.internal_data.get("item")
        extensions = getattr(spec, "extensions", {}) or {}
        return ReadyUserTask(
            task_id=str(task.id),
            element_id=parent.task_spec.bpmn_id if parent else spec.bpmn_id,
            title=spec.bpmn_name or (parent.task_spec.bpmn_name if parent else None),
            lane=spec.lane,
            properties=dict(extensions.get("properties", {})),
            data=task.data,
            multi_instance_parent=str(parent.id) if parent else None,
            instance_index=index if isinstance(index, int) else None,
            item=item,
            instance_count=count,
        )

    def waiting_timers(self) -> list[WaitingTimer]:
        return self._timers(self._waiting_event_tasks())

    def waiting_messages(self) -> list[WaitingMessage]:
        return self._messages(self._waiting_event_tasks())

    @staticmethod
    def _timers(tasks) -> list[WaitingTimer]:
        timers = []
        for task in tasks:
            if any(isinstance(d, TimerEventDefinition) for d in _event_definitions(task)):
                due = _timer_due(task._get_internal_data("event_value"))
                if due is not None:
                    timers.append(WaitingTimer(str(task.id), task.task_spec.bpmn_id, due))
        return timers

    @staticmethod
    def _messages(tasks) -> list[WaitingMessage]:
        return [
            WaitingMessage(str(t.id), t.task_spec.bpmn_id, d.name, _properties(t), t.data)
            for t in tasks
            for d in _event_definitions(t)
            if isinstance(d, MessageEventDefinition)
        ]

    def has_waiting_events(self) -> bool:
        return any(True for _ in self._waiting_event_tasks())

    def errored_tasks(self) -> list[str]:
        return [str(t.id) for t in self._wf.get_tasks(state=TaskState.ERROR)]

    def take_thrown_messages(self) -> list[ThrownMessage]:
        """Messages this instance threw that nothing inside it caught: routing is the host's job."""
        thrown = []
        for event in self._wf.get_events():
            definition = event.event_definition
            if isinstance(definition, MessageEventDefinition):
                thrown.append(ThrownMessage(definition.name, event.payload, dict(event.correlations or {})))
        return thrown

    def task_states(self) -> dict[str, str]:
        """element id -> COMPLETED/READY/WAITING/ERROR/... for the instance diagram."""
        states: dict[str, str] = {}
        for task in self._wf.get_tasks():
            element = getattr(task.task_spec, "bpmn_id", None)
            if element and task.state not in (TaskState.MAYBE, TaskState.LIKELY, TaskState.FUTURE):
                states[element] = TaskState.get_name(task.state)
        return states

    # -- internals ------------------------------------------------------------------
    def _task(self, task_id: str):
        from uuid import UUID

        try:
            return self._wf.get_task_from_id(UUID(str(task_id)))
        except (ValueError, KeyError, WorkflowException):
            return None

    def _ready_manual_task(self, task_id: str):
        task = self._task(task_id)
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotReady(task_id)
        return task

    def _waiting_event_tasks(self):
        seen = set()
        for workflow in (self._wf, *self._wf.subprocesses.values()):
            manager = getattr(workflow, "event_manager", None)
            for task in manager.tasks.values() if manager else []:
                if task.id not in seen and task.state == TaskState.WAITING:
                    seen.add(task.id)
                    yield task


def _is_instance_child(task) -> bool:
    """One instance of a multi-instance step. The step after a multi-instance step is its
    child in the task tree too, but runs once: it is not one of the instances."""
    parent = task.parent.task_spec if task.parent is not None else None
    return isinstance(parent, MultiInstanceTask) and parent.task_spec == task.task_spec.name


def _properties(task) -> dict[str, str]:
    return dict((getattr(task.task_spec, "extensions", {}) or {}).get("properties", {}))


def _event_definitions(task) -> list:
    """An event-based gateway waits on several definitions at once (Spiff moves the catch
    events' definitions onto the gateway as one MultipleEventDefinition)."""
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def _instance_count(parent) -> int:
    mi = parent.task_spec
    if mi.data_input is not None and mi.data_input.exists(parent):
        return len(mi.data_input.get(parent))
    if mi.cardinality:
        return int(parent.workflow.script_engine.evaluate(parent, mi.cardinality))
    return len(parent.children)


def _timer_due(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, dict):  # cycle timers keep {'cycles', 'next', 'duration'}
        value = value.get("next")
    try:
        return TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _failure(task, exc: BaseException) -> TaskFailure:
    # Spiff wraps errors (WorkflowTaskException.exception, __cause__): record the real one.
    cause, service_failed = exc, False
    for _ in range(10):
        if isinstance(cause, ServiceTaskFailed):
            service_failed, cause = True, cause.cause
            break
        # WorkflowTaskException is raised inside `except`: the real error is its context.
        inner = cause.__cause__ or (cause.__context__ if isinstance(cause, WorkflowTaskException) else None)
        if inner is None:
            break
        cause = inner
    return TaskFailure(
        task_id=str(task.id),
        element_id=task.task_spec.bpmn_id,
        error_type=type(cause).__name__,
        message=str(cause),
        stack="".join(traceback.format_exception(cause))[-8000:],
        operation=getattr(task.task_spec, "operation_name", None),
        retryable=service_failed,
    )
