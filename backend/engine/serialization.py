"""The one serializer configuration: Spiff's own classes plus the value types of this domain."""

import json
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG


class _StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Instance state without the spec: specs are stored once per definition version, so
    converting them on every save (the default) is wasted work. Restore puts them back."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        """As Spiff's, except that subprocess specs given as `LazySpecs` stay lazy."""
        specs = dct.pop("subprocess_specs", {})
        if not isinstance(specs, LazySpecs):
            dct["subprocess_specs"] = specs
            return super().from_dict(dct)
        workflow = self.target_class(self.registry.restore(dct.pop("spec")), specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class LazySpecs(Mapping):
    """The called processes' specs, each restored from its JSON on first use. Restoring specs
    is the dearest part of loading an instance, and most units of work never enter a called
    process (a new project_approval instance stops at its first task: 4/5 of its spec JSON is
    the review round). Specs are per-run objects (the engine mutates them): never shared."""

    def __init__(self, texts: Mapping[str, str]):
        self._texts = texts
        self._specs: dict = {}

    def __getitem__(self, name):
        spec = self._specs.get(name)
        if spec is None:
            spec = self._specs[name] = SERIALIZER.from_dict(json.loads(self._texts[name]))
        return spec

    def __contains__(self, name) -> bool:
        return name in self._texts

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)


_registry = BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: _StateOnlyWorkflowConverter})
# Money stays Decimal through save and load; a float would silently lose cents.
_registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
_registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))

SERIALIZER = BpmnWorkflowSerializer(_registry)
# to_dict() omits the version; we record it beside every saved state.
SERIALIZER_VERSION = VERSION


def dumps(state: dict) -> str:
    """JSON text of a serializer dict; registered value types (Decimal, date, datetime) inside
    task data are encoded by the serializer's own encoder, so they come back typed."""
    return json.dumps(state, cls=_ENCODER, ensure_ascii=False, separators=(",", ":"))


_ENCODER = create_encoder(_registry)
