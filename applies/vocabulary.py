"""SchemaBot's other fixed strings (docs/schemabot.md, "Tables"): everything that is not a state.

States live in ``applies.states``; these are the words of control requests, logs, operation
policies and engines, so no other module spells them out.
"""

from __future__ import annotations

from enum import StrEnum


class ControlOperation(StrEnum):
    """``apply_control_requests.operation`` (b2349ea: start/stop/cutover; HEAD adds the rest)."""

    START = "start"
    STOP = "stop"
    CUTOVER = "cutover"
    CANCEL = "cancel"
    REVERT = "revert"
    SKIP_REVERT = "skip_revert"
    RELEASE = "release"
    VOLUME = "volume"


class RequestStatus(StrEnum):
    """``apply_control_requests.status``."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class LogEvent(StrEnum):
    """``apply_logs.event_type``."""

    STATE_TRANSITION = "state_transition"
    TASK_UPDATE = "task_update"
    STOP_REQUESTED = "stop_requested"
    START_REQUESTED = "start_requested"
    DEPLOY_TRIGGERED = "deploy_triggered"
    CUTOVER_TRIGGERED = "cutover_triggered"
    SKIP_REVERT_TRIGGERED = "skip_revert_triggered"
    REVERT_TRIGGERED = "revert_triggered"
    ERROR = "error"
    INFO = "info"
    PROGRESS = "progress"


class LogSource(StrEnum):
    """``apply_logs.source``: who wrote the row; ternadmin's own actions say so."""

    SCHEMABOT = "schemabot"
    SPIRIT = "spirit"
    TERNADMIN = "ternadmin"


class CutoverPolicy(StrEnum):
    ROLLING = "rolling"
    BARRIER = "barrier"
    PARALLEL = "parallel"


class OperationKind(StrEnum):
    """``apply_operations.operation_kind`` (current upstream, #488/#497): shard work, and the
    row that finishes a group of shards once their work is done."""

    WORK = "work"
    GROUP_FINALIZER = "group_finalizer"


class OnFailure(StrEnum):
    HALT = "halt"
    CONTINUE = "continue"
    PAUSE = "pause"


class Engine(StrEnum):
    SPIRIT = "spirit"
    PLANETSCALE = "planetscale"
    STRATA = "strata"


class DatabaseType(StrEnum):
    MYSQL = "mysql"
    VITESS = "vitess"
    STRATA = "strata"
