"""The engine adapter: the ONLY package that imports SpiffWorkflow.

An upgrade of the engine touches this package alone. The host sees plain dataclasses:
`ProcessModel` from parsing, `ProcessRun` for one instance, and the sandbox.
"""

from backend.engine.definitions import (
    DefinitionError,
    Element,
    Expression,
    Problem,
    ProcessModel,
    parse_files,
)
from backend.engine.instance import (
    CannotGoBack,
    ProcessRun,
    ReadyUserTask,
    ServiceTaskFailed,
    Snapshot,
    TaskFailure,
    TaskNotReady,
    ThrownMessage,
    WaitingMessage,
    WaitingTimer,
)
from backend.engine.migration import CannotMigrate, MigrationPlan, MigrationReason
from backend.engine.serialization import SERIALIZER_VERSION

__all__ = [
    "CannotGoBack",
    "CannotMigrate",
    "MigrationPlan",
    "MigrationReason",
    "SERIALIZER_VERSION",
    "DefinitionError",
    "Element",
    "Expression",
    "Problem",
    "ProcessModel",
    "ProcessRun",
    "ReadyUserTask",
    "ServiceTaskFailed",
    "Snapshot",
    "TaskFailure",
    "TaskNotReady",
    "ThrownMessage",
    "WaitingMessage",
    "WaitingTimer",
    "parse_files",
]
