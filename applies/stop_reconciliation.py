"""Stop reconciliation (current line): claim an apply whose pending stop no operation carries.

Upstream ``FindNextApplyForStopReconciliation`` (pkg/storage/mysqlstore/applies.go, #581) and
the operator's ``recoverApplyPendingStop`` (pkg/api/operator.go): an apply with a pending stop
request, at least one operation still pending and none active would strand forever, since the
pending-stop gate keeps its pending operations from starting and nothing else drives it. The
operator claims the apply itself (pending moves to running for the claim; an active or paused
apply only changes hands), delivers the stop, stops the pending operations and completes the
request. The claim is here; the delivery is the drive's (``applies.recovery.stop``).

The clause only takes a stop that is newer than the apply's lease, or whose lease went stale:
a reconciliation that keeps failing is not re-claimed on every pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from applies import db
from applies.candidates import Candidate, CandidateQuery, stop_reconciliation_candidates
from applies.claims import (
    ApplyClaim,
    apply_lock,
    first_claim,
    lock_apply,
    require_owner,
    write_apply_claim,
)
from applies.clauses import Clause, stop_reconciliation_case
from applies.lines import current_line
from applies.windows import Windows


def find_next_stop_reconciliation(
    owner: str, *, engines: Sequence[str] | None = None
) -> ApplyClaim | None:
    """Claim the oldest apply whose stop needs reconciling, or ``None`` (or off this line)."""
    require_owner(owner)
    if not current_line().stop_reconciliation:
        return None
    windows = Windows.from_settings()

    def page(after: Candidate | None) -> CandidateQuery:
        return stop_reconciliation_candidates(after=after)

    def claim(apply_id: int) -> ApplyClaim | None:
        return claim_for_stop_reconciliation(apply_id, owner, engines=engines, windows=windows)

    found: ApplyClaim | None = first_claim(page, claim)
    return found


def claim_for_stop_reconciliation(
    apply_id: int,
    owner: str,
    *,
    engines: Sequence[str] | None = None,
    windows: Windows | None = None,
) -> ApplyClaim | None:
    require_owner(owner)
    windows, line = windows or Windows.from_settings(), current_line()
    if not line.stop_reconciliation:
        return None
    lock = apply_lock(windows, line, len(engines or ()), case=stop_reconciliation_case)
    with db.atomic():
        locked = lock_apply(lock, apply_id, engines)
        if locked is None:
            return None
        return write_apply_claim(locked[0], Clause.STOP_RECONCILIATION, owner, line)
