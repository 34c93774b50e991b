"""Forget everything the emulator holds, and everything it made on the branch server."""

from __future__ import annotations

from localscale import store
from localscale.models import Branch, Call, Clock, DeployRequest, Fault, Password


def reset() -> dict[str, int]:
    """Branches (their databases and accounts), deploy requests, calls, faults and the clock."""
    deleted = store.current().reset()
    for model in (Password, DeployRequest, Branch, Call, Fault, Clock):
        deleted[model._meta.db_table], _ = model.objects.all().delete()
    return deleted
