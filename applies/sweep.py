"""The reclaim sweep: one bounded pass that turns "wedged after a crash" into "recovered".

``run_sweep()`` is a dumb bounded loop around ``sweep_once()`` (claim one unit, record its
drive). A pass: make sure the drive loops run (``applies.drives.slots``: a loop whose worker was
killed is enqueued again); expire retries that ran out; check the mass-staleness brake; claim
stale work through the same claim functions SchemaBot's operator uses (apply-level, or
operation-level like ``operator_claim_operations``), only for engines ternadmin drives
(``applies.engines``); record a drive for each claim, which the loops step; stop at the row
limit or the time budget. Correct under overlap (django-q2 delivers at least once, two clusters
may sweep at once): the claim's row lock and lease are the guarantee.

``dry_run`` writes nothing and takes no lock that outlives its statement: it reports what a
pass would claim from ``classify`` (the same SQL clauses the claims lock rows with).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings

from applies import brake
from applies.claims import ApplyClaim, find_next_apply_claim
from applies.classify import Classification, Verdict, live
from applies.dbclock import PreciseNow, SecondsAgo
from applies.drives import launch_drive
from applies.drives.records import prune_ended
from applies.drives.slots import start_loops
from applies.engines import driven_engines
from applies.expiry import expire_retryable
from applies.lines import claims_operations
from applies.models import SweepRun
from applies.operation_claims import claim_through_operation
from applies.stop_reconciliation import find_next_stop_reconciliation

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedUnit:
    apply_id: int
    apply_identifier: str
    state: str
    engine: str
    path: str  # "apply" or "operation"
    clause: str


@dataclass
class SweepReport:
    owner: str
    dry_run: bool
    claimed: list[ClaimedUnit] = field(default_factory=list)
    would_claim: list[ClaimedUnit] = field(default_factory=list)
    expired_retryable: list[dict[str, Any]] = field(default_factory=list)
    loops_started: list[int] = field(default_factory=list)  # drive-loop slots (re)enqueued
    skipped: list[dict[str, Any]] = field(default_factory=list)
    wedged: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    brake: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        if self.dry_run:
            del data["claimed"]
        else:
            del data["would_claim"]
        return data

    def by_clause(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for unit in self.claimed:
            counts[unit.clause] = counts.get(unit.clause, 0) + 1
        return counts


def run_sweep(
    *,
    owner: str,
    dry_run: bool = False,
    limit: int | None = None,
    time_budget: float | None = None,
    claim_operations: bool | None = None,
) -> SweepReport:
    """One pass; returns its report and (unless a dry run) records it as a ``SweepRun``."""
    clock = time.monotonic()
    report = SweepReport(owner=owner, dry_run=dry_run)
    limit = settings.TERNADMIN_SWEEP_LIMIT if limit is None else limit
    budget = settings.TERNADMIN_SWEEP_TIME_BUDGET_SECONDS if time_budget is None else time_budget
    operations = claims_operations() if claim_operations is None else claim_operations
    if not dry_run:
        _start_loops(report)
    try:
        _expire(report, dry_run)
        classified = live()
        _note_unclaimable(report, classified)
        state = brake.evaluate(classified, dry_run=dry_run, owner=owner)
        report.brake = state.as_json()
        if dry_run:
            report.would_claim = _would_claim(classified, limit)
        elif not state.engaged:
            deadline = clock + budget
            while len(report.claimed) < limit and time.monotonic() < deadline:
                if not sweep_once(report, owner=owner, operations=operations):
                    break
    except Exception as exc:  # the pass itself failed (e.g. the database went away)
        logger.exception("sweep pass failed")
        report.errors.append(f"pass: {type(exc).__name__}: {exc}")
    report.duration_s = round(time.monotonic() - clock, 3)
    if not dry_run:
        _record(report)
    return report


def sweep_once(report: SweepReport, *, owner: str, operations: bool) -> bool:
    """Claim one unit and start its drive; whether there was work."""
    try:
        claim, path = _claim_one(owner, operations, {unit.apply_id for unit in report.claimed})
    except Exception as exc:
        report.errors.append(f"claim: {type(exc).__name__}: {exc}")
        return False  # never retried in a tight loop: the next pass tries again
    if claim is None:
        return False
    apply = claim.apply
    unit = ClaimedUnit(
        apply.pk, apply.apply_identifier, claim.previous_state, apply.engine, path, claim.clause
    )
    report.claimed.append(unit)
    try:
        launch_drive(claim, trigger="sweep", start_loops=False)  # this pass started them
    except Exception as exc:  # recorded; the claim goes stale and a later pass retries it
        report.errors.append(f"apply {apply.pk}: drive not started: {type(exc).__name__}: {exc}")
    return True


def _claim_one(owner: str, operations: bool, taken: set[int]) -> tuple[ApplyClaim | None, str]:
    """One claim, in the order SchemaBot's operator tries its paths (pkg/api/operator.go).

    Operation mode (``operator_claim_operations``): a stop no operation carries first (current
    line), then an operation row and its parent. Upstream tries the deployment-ordered cutover
    claim in between; it only takes rows of multi-operation applies, which ternadmin does not
    drive (``claims``: ``engines``), so SchemaBot's own operator keeps it.
    Apply mode: the apply-level clauses, never an apply this pass already took.
    """
    engines = driven_engines()
    if not engines:
        return None, "apply"  # no filter would mean every engine: claim nothing instead
    if not operations:
        return find_next_apply_claim(owner, engines=engines, skip=taken), "apply"
    stop = find_next_stop_reconciliation(owner, engines=engines)
    if stop is not None:
        return stop, "stop_reconciliation"
    return claim_through_operation(owner, engines=engines), "operation"


def _start_loops(report: SweepReport) -> None:
    try:
        report.loops_started = start_loops()
    except Exception as exc:  # the claims still run; their drives wait for the next pass
        report.errors.append(f"drive loops: {type(exc).__name__}: {exc}")


def _expire(report: SweepReport, dry_run: bool) -> None:
    try:
        expired = expire_retryable(dry_run=dry_run)
    except Exception as exc:  # best effort, as at SchemaBot HEAD: the claims still run
        report.errors.append(f"expire_retryable: {type(exc).__name__}: {exc}")
        return
    report.expired_retryable = [
        {"apply_id": e.apply_id, "apply_identifier": e.apply_identifier, "reason": e.reason}
        for e in expired
    ]


def _unit(c: Classification, path: str = "apply") -> ClaimedUnit:
    return ClaimedUnit(
        c.apply_id, c.apply_identifier, c.state, c.engine, path, c.clause.value if c.clause else ""
    )


def _note_unclaimable(report: SweepReport, classified: list[Classification]) -> None:
    for c in classified:
        if c.classification is Verdict.WEDGED:
            report.wedged.append({"apply_id": c.apply_id, "state": c.state, "reason": c.reason})
        elif c.classification is Verdict.CLAIMABLE_NOW and c.claimed_by != "ternadmin":
            report.skipped.append(
                {
                    "apply_id": c.apply_id,
                    "apply_identifier": c.apply_identifier,
                    "state": c.state,
                    "engine": c.engine,
                    "reason": c.reason,  # says that SchemaBot's own operator claims it, and why
                }
            )


def _would_claim(classified: list[Classification], limit: int) -> list[ClaimedUnit]:
    claimable = [
        c
        for c in classified
        if c.classification is Verdict.CLAIMABLE_NOW and c.claimed_by == "ternadmin"
    ]
    return [_unit(c) for c in claimable[:limit]]


def _record(report: SweepReport) -> None:
    # The pass's times by the database's clock, against which the dashboard and /metrics
    # measure them, whatever this host's clock says.
    try:
        SweepRun.objects.create(
            started_at=PreciseNow(-report.duration_s),
            finished_at=PreciseNow(),
            owner=report.owner,
            ok=not report.errors,
            claimed=len(report.claimed),
            expired=len(report.expired_retryable),
            skipped=len(report.skipped),
            wedged=len(report.wedged),
            errors=len(report.errors),
            brake_engaged=bool(report.brake.get("engaged")),
            duration_s=report.duration_s,
            report={**report.summary(), "by_clause": report.by_clause()},
        )
    except Exception:
        logger.exception("could not record the sweep pass")
    try:
        days = settings.TERNADMIN_SWEEP_HISTORY_DAYS
        SweepRun.objects.filter(started_at__lt=SecondsAgo(days * 86_400)).delete()
        prune_ended(days)
    except Exception:
        logger.exception("could not prune the sweep and drive history")
