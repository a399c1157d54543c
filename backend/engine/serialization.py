"""The one serializer configuration: Spiff's own classes plus the value types of this domain."""

import json
from datetime import date
from decimal import Decimal

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
