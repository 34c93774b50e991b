"""The models: SchemaBot's tables (``schemabot``, unmanaged, in SchemaBot's database) and
ternadmin's own (``console``, in ternadmin's database; ``ternadmin.routers`` sends each model
to its database)."""

from __future__ import annotations

from applies.models.console import ApiToken, Brake, Drive, DriveLoop, SweepRun
from applies.models.schemabot import (
    SCHEMABOT_MODELS,
    Apply,
    ApplyControlRequest,
    ApplyLog,
    ApplyOperation,
    Lock,
    Plan,
    SchemaBotTable,
    TableIndex,
    Task,
)

__all__ = [
    "SCHEMABOT_MODELS",
    "ApiToken",
    "Apply",
    "ApplyControlRequest",
    "ApplyLog",
    "ApplyOperation",
    "Brake",
    "Drive",
    "DriveLoop",
    "Lock",
    "Plan",
    "SchemaBotTable",
    "SweepRun",
    "TableIndex",
    "Task",
]
