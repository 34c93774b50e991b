"""Why an apply is (or is not) recoverable now, and when it will be.

The clause that matches is computed by the database with the very CASE expression the claim
paths lock rows with (``applies.clauses``), so the console can never disagree with a claim.
Everything else is words around it:

- ``claimable_now``: a claim path takes it on the next pass (which, and why).
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
from django.db import connections
from django.db.models import QuerySet, Subquery
from django.db.models.expressions import RawSQL

from applies import states
from applies.clauses import CLAUSE_DESCRIPTIONS, Clause, Windows, apply_clause_case
from applies.dbclock import AgeSeconds
from applies.models import Apply, ApplyControlRequest
from applies.states import ApplyState, Story
from applies.vocabulary import ControlOperation, RequestStatus


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

    @property
    def stuck(self) -> bool:
        """Non-terminal with a stale heartbeat that a claim path will take."""
        return self.classification is Verdict.CLAIMABLE_NOW

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["classification"] = self.classification.value
        data["clause"] = self.clause.value if self.clause else None
        return data


def duration(seconds: int | None) -> str:
    """``4m12s``-style, for sentences."""
    if seconds is None:
        return "unknown"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value]
    return "".join(shown[:2]) or "0s"


def annotate_for_classification(queryset: QuerySet[Apply]) -> QuerySet[Apply]:
    """Add what ``classify`` needs, computed by the database in the same query."""
    vendor = connections[settings.SCHEMABOT_DATABASE].vendor
    return queryset.annotate(
        claim_clause=RawSQL(apply_clause_case(vendor), []),
        heartbeat_age=AgeSeconds("updated_at"),
    )


def classify(apply: Apply, windows: Windows | None = None) -> Classification:
    """Classify one apply. Cheap when ``apply`` came from ``annotate_for_classification``."""
    if not hasattr(apply, "claim_clause"):
        apply = annotate_for_classification(Apply.objects.using(settings.SCHEMABOT_DATABASE)).get(
            pk=apply.pk
        )
    windows = windows or Windows.from_settings()
    raw_clause: str | None = apply.claim_clause  # type: ignore[attr-defined]
    age = int(apply.heartbeat_age or 0)  # type: ignore[attr-defined]
    clause = Clause(raw_clause) if raw_clause else None
    verdict, reason, claimable_in = _judge(apply, clause, age, windows)
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
    connection = connections[settings.SCHEMABOT_DATABASE]
    present: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(state) FROM applies")
        state = cursor.fetchone()[0]
        while state is not None:
            present.append(state)
            cursor.execute("SELECT MIN(state) FROM applies WHERE state > %s", [state])
            state = cursor.fetchone()[0]
    return [state for state in present if state not in states.TERMINAL_APPLY_STATES]


def live(queryset: QuerySet[Apply] | None = None) -> list[Classification]:
    """Every non-terminal apply, and stopped ones a start request would claim, classified.

    Two index-friendly reads (by state; stopped ones through the few pending start requests),
    never a walk over terminal history.
    """
    base = queryset if queryset is not None else Apply.objects.using(settings.SCHEMABOT_DATABASE)
    active = base.filter(state__in=live_states())
    starting = ApplyControlRequest.objects.using(settings.SCHEMABOT_DATABASE).filter(
        operation=ControlOperation.START, status=RequestStatus.PENDING
    )
    stopped = base.filter(state=ApplyState.STOPPED, pk__in=Subquery(starting.values("apply_id")))
    rows = [*annotate_for_classification(active), *annotate_for_classification(stopped)]
    rows.sort(key=lambda apply: (apply.created_at, apply.pk))
    return classify_all(rows)


def _judge(
    apply: Apply, clause: Clause | None, age: int, windows: Windows
) -> tuple[Verdict, str, int | None]:
    info = states.apply_state(apply.state)
    if clause is not None:
        return Verdict.CLAIMABLE_NOW, _claimable_reason(apply, clause, age), None
    if info.story is Story.TERMINAL or (info.terminal and info.value == ApplyState.STOPPED):
        return Verdict.TERMINAL, f"{info.label}: terminal, nothing will claim it.", None
    if info.story is Story.CLAIMABLE_WHEN_STALE:
        left = max(0, windows.stale_after - age)
        return (
            Verdict.HEALTHY,
            f"Heartbeat {duration(age)} old in {apply.state}: a driver holds it. If it stopped "
            f"now, the stale-active clause would claim it in {duration(left)}.",
            left,
        )
    if info.value == ApplyState.PENDING:
        return _judge_bare_pending(apply, age, windows)
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


def _claimable_reason(apply: Apply, clause: Clause, age: int) -> str:
    where = CLAUSE_DESCRIPTIONS[clause]
    if clause is Clause.STALE_ACTIVE:
        return f"Stale for {duration(age)} in {apply.state} → {where} will claim it."
    return f"{states.apply_state(apply.state).label} → {where} will claim it."


def _judge_bare_pending(
    apply: Apply, age: int, windows: Windows
) -> tuple[Verdict, str, int | None]:
    if age < windows.stale_after:
        return (
            Verdict.HEALTHY,
            "Pending without tasks yet: SchemaBot is still creating it.",
            None,
        )
    return (
        Verdict.WEDGED,
        f"Pending for {duration(age)} with no tasks, no operation and no start request: "
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
