"""Why an apply is (or is not) recoverable now, and when it will be.

The clause that matches is computed by the database with the very CASE expressions the claim
paths lock rows with (``applies.clauses``, and in operation mode ``applies.operation_clauses``),
over the paths the sweep runs, so the console can never disagree with a claim.
Everything else is words around it:

- ``claimable_now``: a claim path takes it on the next pass (which, and why); for an apply
  ternadmin does not drive (another engine, or several operations), the reason says that
  SchemaBot's own operator claims it. One that stays claimable for more than
  ``TERNADMIN_UNCLAIMED_ALARM_INTERVALS`` sweep intervals raises ``unclaimed_alarm``: SchemaBot's
  operator is not claiming.
- ``healthy``: a live driver holds it (fresh heartbeat), or it is still being created; says when
  it would become claimable if the heartbeat stopped now.
- ``needs_human``: never auto-claimed by design (``paused``, retries exhausted or expired).
- ``wedged``: non-terminal, yet no claim path will ever take it: the class of bug SchemaBot's
  setup-phase fix (#302) and its later fixes (#400, #424, #770) closed. Unknown states land here.
- ``terminal``: done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, OuterRef, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from applies import db, states
from applies.clauses import CLAUSE_DESCRIPTIONS, Clause, several_operations_sql
from applies.dbclock import AgeSeconds
from applies.durations import duration
from applies.engines.driven import not_driven_reason
from applies.lines import Line, claims_operations, current_line
from applies.models import Apply, ApplyControlRequest
from applies.operation_clauses import sweep_claim_case
from applies.states import ApplyState, Story
from applies.vocabulary import ControlOperation, RequestStatus
from applies.windows import Windows

# Clauses a control request opens: claimable since the request, not since the heartbeat.
_REQUEST_CLAUSES = frozenset(
    {
        Clause.PENDING_START,
        Clause.STOPPED_START,
        Clause.STOPPED_CANCEL,
        Clause.DEFERRED_DEPLOY_START,
        Clause.STOP_RECONCILIATION,
    }
)


class Verdict(StrEnum):
    CLAIMABLE_NOW = "claimable_now"
    HEALTHY = "healthy"
    NEEDS_HUMAN = "needs_human"
    WEDGED = "wedged"
    TERMINAL = "terminal"


@dataclass(frozen=True)
class Classification:
    apply_id: int
    apply_identifier: str
    state: str
    engine: str
    classification: Verdict
    clause: Clause | None
    reason: str
    heartbeat_age_seconds: int
    claimable_in_seconds: int | None  # healthy and claimable-when-stale: time left on the window
    # Who claims it: "ternadmin" (and SchemaBot's operator) or "schemabot" only; "" if no one.
    claimed_by: str = ""
    # Claimable for longer than the alarm allows: SchemaBot's operator is not claiming.
    unclaimed_alarm: bool = False

    @property
    def stuck(self) -> bool:
        """Non-terminal with a stale heartbeat that a claim path will take."""
        return self.classification is Verdict.CLAIMABLE_NOW

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["classification"] = self.classification.value
        data["clause"] = self.clause.value if self.clause else None
        return data


def annotate_for_classification(queryset: QuerySet[Apply]) -> QuerySet[Apply]:
    """Add what ``classify`` needs, computed by the database in the same query."""
    vendor = db.vendor()
    pending_requests = ApplyControlRequest.objects.filter(
        apply_id=OuterRef("pk"), status=RequestStatus.PENDING
    ).order_by("-updated_at")
    return queryset.annotate(
        claim_clause=RawSQL(sweep_claim_case(vendor, operations=claims_operations()), []),
        heartbeat_age=AgeSeconds("updated_at"),
        request_age=Subquery(
            pending_requests.annotate(age=AgeSeconds("updated_at")).values("age")[:1]
        ),
        several_operations=RawSQL(
            several_operations_sql("applies.id"), [], output_field=BooleanField()
        ),
    )


def not_driven_because(engine: str, several_operations: bool) -> str:
    """Why ternadmin leaves an apply to SchemaBot's operator ("" when ternadmin drives it)."""
    reason = not_driven_reason(engine)
    if reason:
        return reason
    if several_operations:
        return "ternadmin does not drive multi-operation applies"
    return ""


def unclaimed_alarm_after() -> int:
    """Seconds an apply may stay claimable before SchemaBot's operator counts as not claiming:
    ``TERNADMIN_UNCLAIMED_ALARM_INTERVALS`` sweep intervals (SchemaBot polls every 10 s)."""
    return int(settings.TERNADMIN_UNCLAIMED_ALARM_INTERVALS) * int(
        settings.TERNADMIN_SWEEP_INTERVAL_SECONDS
    )


def classify(apply: Apply, windows: Windows | None = None) -> Classification:
    """Classify one apply. Cheap when ``apply`` came from ``annotate_for_classification``."""
    if not hasattr(apply, "claim_clause"):
        apply = annotate_for_classification(Apply.objects.all()).get(pk=apply.pk)
    windows = windows or Windows.from_settings()
    raw_clause: str | None = apply.claim_clause  # type: ignore[attr-defined]
    age = int(apply.heartbeat_age or 0)  # type: ignore[attr-defined]
    clause = Clause(raw_clause) if raw_clause else None
    if clause is not None:
        return _claimable(apply, clause, age, windows)
    verdict, reason, claimable_in = _judge(apply, age, windows, current_line())
    return Classification(
        apply_id=apply.pk,
        apply_identifier=apply.apply_identifier,
        state=apply.state,
        engine=apply.engine,
        classification=verdict,
        clause=clause,
        reason=reason,
        heartbeat_age_seconds=age,
        claimable_in_seconds=claimable_in,
    )


def classify_all(applies: Iterable[Apply], windows: Windows | None = None) -> list[Classification]:
    windows = windows or Windows.from_settings()
    return [classify(apply, windows) for apply in applies]


def live_states() -> list[str]:
    """Every non-terminal state present, unknown strings included (they are wedged).

    A skip scan over ``idx_state_created_id``: ``MIN(state) WHERE state > previous``, one index
    probe per distinct state, however many terminal rows there are, and whatever the table's
    statistics say (``SELECT DISTINCT`` is planned from them and may walk the whole index).
    """
    present: list[str] = []
    state = _next_state("SELECT MIN(state) FROM applies", [])
    while state is not None:
        present.append(state)
        state = _next_state("SELECT MIN(state) FROM applies WHERE state > %s", [state])
    return [state for state in present if state not in states.TERMINAL_APPLY_STATES]


def _next_state(sql: str, params: list[str]) -> str | None:
    row = db.fetchone(sql, params)
    return None if row is None else row[0]


def live(queryset: QuerySet[Apply] | None = None) -> list[Classification]:
    """Every non-terminal apply, and stopped ones a start (or cancel) request would claim,
    classified.

    Two index-friendly reads (by state; stopped ones through the few pending requests), never
    a walk over terminal history.
    """
    base = queryset if queryset is not None else Apply.objects.all()
    active = base.filter(state__in=live_states())
    starting = ApplyControlRequest.objects.filter(
        operation__in=(ControlOperation.START, ControlOperation.CANCEL),
        status=RequestStatus.PENDING,
    )
    stopped = base.filter(state=ApplyState.STOPPED, pk__in=Subquery(starting.values("apply_id")))
    rows = [*annotate_for_classification(active), *annotate_for_classification(stopped)]
    rows.sort(key=lambda apply: (apply.created_at, apply.pk))
    return classify_all(rows)


def _judge(apply: Apply, age: int, windows: Windows, line: Line) -> tuple[Verdict, str, int | None]:
    info = states.apply_state(apply.state)
    if info.story is Story.TERMINAL or (info.terminal and info.value == ApplyState.STOPPED):
        return Verdict.TERMINAL, f"{info.label}: terminal, nothing will claim it.", None
    if info.known and not line.knows(apply.state):
        return (
            Verdict.WEDGED,
            f"State {apply.state!r} is not one {line.title} knows: none of its claim paths "
            "covers it (is TERNADMIN_SCHEMABOT_LINE right?).",
            None,
        )
    if line.claimable(apply.state):
        left = max(0, windows.stale_after - age)
        return (
            Verdict.HEALTHY,
            f"Heartbeat {duration(age)} old in {apply.state}: a driver holds it. If it stopped "
            f"now, the stale-active clause would claim it in {duration(left)}.",
            left,
        )
    if info.value == ApplyState.PENDING:
        return _judge_bare_pending(age, windows, line)
    if info.value == ApplyState.FAILED_RETRYABLE:
        return _judge_retry(apply, age, windows)
    if info.story is Story.NEEDS_HUMAN:
        return Verdict.NEEDS_HUMAN, f"{info.label}: {info.recovery}", None
    return (
        Verdict.WEDGED,
        f"State {apply.state!r} is not one SchemaBot or ternadmin knows: no claim path "
        "covers it, so it will never be recovered automatically.",
        None,
    )


def _claimable(apply: Apply, clause: Clause, age: int, windows: Windows) -> Classification:
    """Claimable now: by which clause, by whom, and for how long already."""
    left_to = not_driven_because(apply.engine, bool(getattr(apply, "several_operations", False)))
    if clause is Clause.STALE_ACTIVE:
        since = max(0, age - windows.stale_after)
        reason = f"Stale for {duration(age)} in {apply.state} → "
    else:
        request_age = getattr(apply, "request_age", None)
        since = age
        if clause in _REQUEST_CLAUSES and request_age is not None:
            since = min(age, int(request_age))
        reason = f"{states.apply_state(apply.state).label} → "
    if left_to:
        reason += f"SchemaBot's own operator claims it ({left_to})."
    else:
        reason += f"{CLAUSE_DESCRIPTIONS[clause]} will claim it."
    alarm = since > unclaimed_alarm_after()
    if alarm:
        reason += (
            f" Claimable for {duration(since)} and still unclaimed: SchemaBot's operator is "
            "not claiming."
        )
    return Classification(
        apply_id=apply.pk,
        apply_identifier=apply.apply_identifier,
        state=apply.state,
        engine=apply.engine,
        classification=Verdict.CLAIMABLE_NOW,
        clause=clause,
        reason=reason,
        heartbeat_age_seconds=age,
        claimable_in_seconds=None,
        claimed_by="schemabot" if left_to else "ternadmin",
        unclaimed_alarm=alarm,
    )


def _judge_bare_pending(age: int, windows: Windows, line: Line) -> tuple[Verdict, str, int | None]:
    if age < windows.stale_after:
        return (
            Verdict.HEALTHY,
            "Pending without tasks yet: SchemaBot is still creating it.",
            None,
        )
    lacking = "no tasks, no operation" if line.queued_by_operation_row else "no tasks"
    return (
        Verdict.WEDGED,
        f"Pending for {duration(age)} with {lacking} and no start request: "
        "the queued clause needs one of them, so nothing will ever claim it.",
        None,
    )


def _judge_retry(apply: Apply, age: int, windows: Windows) -> tuple[Verdict, str, int | None]:
    if apply.attempt >= windows.retry_budget:
        why = f"retry budget exhausted ({apply.attempt}/{windows.retry_budget} attempts)"
    else:
        window = duration(windows.retry_freshness)
        why = f"last retry {duration(age)} ago, outside the {window} window"
    return (
        Verdict.NEEDS_HUMAN,
        f"Retrying, but {why}: the next sweep expires it to failed; a person may reapply it.",
        None,
    )
