"""Manual fixes of an apply's state and lease: the only way the admin changes SchemaBot's rows.

Every fix is one short transaction on SchemaBot's database that:

1. locks the apply row (``SELECT … FOR UPDATE``) and compares it with what the person saw when
   they loaded the page (``Seen``: state, lease token, heartbeat). Anything different refuses
   the fix with ``RowChanged``: "the row changed since you loaded the page".
2. refuses what would break SchemaBot's invariants (``Refused``, nothing written):
   unregistered states; a second active apply on a target (moves into a non-terminal state
   take SchemaBot's target lock and re-check with it held; docs/schemabot.md, "The target
   lock"); ending a live driver's work (fresh heartbeat by the database clock) without
   ``confirm_live`` (``LiveDriver``); a terminal state its operations and tasks contradict
   (docs/schemabot.md, "Deriving an apply's state").
3. writes the apply, keeps its operations and tasks consistent, and appends exactly one
   ``apply_logs`` row (source ``ternadmin``) in the same transaction.

``updated_at`` is the heartbeat and MySQL refreshes it on every ``UPDATE`` that does not set
it: every write here sets it, to itself (pinned: a fix must not make a dead apply look alive)
or, with ``reset_heartbeat``, to the database's ``NOW()``.

A fix takes the apply away from whoever drives it: the lease is cleared, so a driver that is
still running loses it at its next lease-guarded write or heartbeat and stops.

Modules: ``by_hand`` (the fixes), ``change`` (the one transaction), ``rows`` (the locked,
compared row), ``children`` (operations and tasks follow the apply).
"""

from __future__ import annotations

from applies.services.errors import LiveDriver, Refused, RowChanged
from applies.services.fixes.by_hand import mark_failed, reapply_failed, release_lease, set_state
from applies.services.fixes.change import FixResult
from applies.services.fixes.children import TASK_STATE_FOR_TERMINAL
from applies.services.fixes.rows import is_live

__all__ = [
    "TASK_STATE_FOR_TERMINAL",
    "FixResult",
    "LiveDriver",
    "Refused",
    "RowChanged",
    "is_live",
    "mark_failed",
    "reapply_failed",
    "release_lease",
    "set_state",
]
