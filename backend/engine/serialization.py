"""The one serializer configuration: Spiff's own classes plus the value types of this domain."""

from datetime import date
from decimal import Decimal

from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
# Money stays Decimal through save and load; a float would silently lose cents.
_registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
_registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))

SERIALIZER = BpmnWorkflowSerializer(_registry)
# to_dict() omits the version; we record it beside every saved state.
SERIALIZER_VERSION = VERSION
