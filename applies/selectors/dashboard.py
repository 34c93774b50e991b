"""Everything the dashboard shows, in a fixed, small number of queries at any table size."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from applies.classify import Verdict, live, unclaimed_alarm_after
from applies.dbclock import AgeSeconds, SecondsUntil
from applies.drives.slots import loop_count
from applies.models import Brake, Drive, DriveLoop, SweepRun
from applies.selectors.counts import StateCounts, state_counts
from applies.selectors.live import Idle, LiveApply, not_progressing, with_rows

RECENT_SWEEPS = 5
RECENT_DRIVES = 10


@dataclass(frozen=True)
class SweepHealth:
    runs: list[SweepRun]  # newest first, each with ``age`` (seconds, database clock)
    brake: Brake | None  # no row: released
    drives: list[Drive]  # newest first, each with ``age`` and ``due_in`` (seconds)
    overdue_after: int
    loops: list[DriveLoop]  # the configured slots, each with ``alive_for`` (seconds)
    loops_configured: int

    @property
    def loops_alive(self) -> int:
        alive = [loop for loop in self.loops if loop.holder and (loop.alive_for or 0) > 0]  # type: ignore[attr-defined]
        return len(alive)

    @property
    def last(self) -> SweepRun | None:
        return self.runs[0] if self.runs else None

    @property
    def overdue(self) -> bool:
        last = self.last
        return last is None or int(last.age) > self.overdue_after  # type: ignore[attr-defined]

    @property
    def braked(self) -> bool:
        return bool(self.brake and self.brake.engaged)


@dataclass(frozen=True)
class Dashboard:
    counts: StateCounts
    stuck: list[LiveApply]  # claimable now, longest-stale first
    wedged: list[LiveApply]
    not_progressing: list[Idle]
    needs_human: list[LiveApply]
    healthy: int
    sweep: SweepHealth
    not_progressing_after: int
    # Claimable longer than the alarm allows: SchemaBot's operator is not claiming them.
    unclaimed: list[LiveApply]
    unclaimed_after: int  # seconds: TERNADMIN_UNCLAIMED_ALARM_INTERVALS sweep intervals
    unclaimed_intervals: int


def sweep_health() -> SweepHealth:
    """The sweep's latest passes, the brake, recent drives and the drive loops (ternadmin's own
    tables)."""
    runs: list[SweepRun] = list(
        SweepRun.objects.annotate(age=AgeSeconds("started_at")).order_by("-started_at")[
            :RECENT_SWEEPS
        ]
    )
    drives: list[Drive] = list(
        Drive.objects.annotate(
            age=AgeSeconds("started_at"), due_in=SecondsUntil("next_due_at")
        ).order_by("-started_at")[:RECENT_DRIVES]
    )
    brake = Brake.objects.order_by("pk").first()
    configured = loop_count()
    loops: list[DriveLoop] = (
        list(
            DriveLoop.objects.filter(slot__lt=configured)
            .annotate(alive_for=SecondsUntil("alive_until"))
            .order_by("slot")
        )
        if configured
        else []
    )
    overdue = settings.TERNADMIN_SWEEP_OVERDUE_SECONDS
    return SweepHealth(runs, brake, drives, overdue, loops, configured)


def _by_age(items: list[LiveApply]) -> list[LiveApply]:
    return sorted(items, key=lambda item: (-item.heartbeat_age, item.apply.pk))


def dashboard() -> Dashboard:
    found = live()
    rows = with_rows(found)
    by_verdict: dict[Verdict, list[LiveApply]] = {verdict: [] for verdict in Verdict}
    for item in rows:
        by_verdict[item.classification.classification].append(item)
    after = settings.TERNADMIN_NOT_PROGRESSING_SECONDS
    stuck = _by_age(by_verdict[Verdict.CLAIMABLE_NOW])
    return Dashboard(
        counts=state_counts(found=found),
        stuck=stuck,
        wedged=_by_age(by_verdict[Verdict.WEDGED]),
        not_progressing=not_progressing(by_verdict[Verdict.HEALTHY], after),
        needs_human=sorted(by_verdict[Verdict.NEEDS_HUMAN], key=lambda item: item.apply.pk),
        healthy=len(by_verdict[Verdict.HEALTHY]),
        sweep=sweep_health(),
        not_progressing_after=after,
        unclaimed=[item for item in stuck if item.classification.unclaimed_alarm],
        unclaimed_after=unclaimed_alarm_after(),
        unclaimed_intervals=settings.TERNADMIN_UNCLAIMED_ALARM_INTERVALS,
    )
