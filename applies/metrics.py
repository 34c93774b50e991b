"""``/metrics`` in Prometheus' text format, computed from the databases on each scrape.

Gauges only: the numbers live in the databases (SchemaBot's tables, the sweep history, drive
records), so any ternadmin process answers the same, and a restart loses nothing. The most
useful alert is ``ternadmin_sweep_seconds_since_last_success``: it grows when the sweeper
itself is dead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from applies import brake
from applies.classify import live
from applies.dbclock import PreciseNow, SecondsUntil
from applies.drives.heartbeats import oldest_heartbeat, running_leases
from applies.drives.slots import loop_count
from applies.models import Drive, DriveLoop, SweepRun


class TernadminCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self._applies()
        yield from self._sweep()
        yield from self._drives()
        yield from self._loops()
        engaged = GaugeMetricFamily(
            "ternadmin_brake_engaged", "1 while the mass-staleness brake stops reclaim."
        )
        engaged.add_metric([], 1.0 if brake.current().engaged else 0.0)
        yield engaged

    def _applies(self) -> Iterator[Metric]:
        classified = live()
        by_state = GaugeMetricFamily(
            "ternadmin_applies",
            "Non-terminal applies by state and engine.",
            labels=["state", "engine"],
        )
        for (state, engine), n in sorted(Counter((c.state, c.engine) for c in classified).items()):
            by_state.add_metric([state, engine], n)
        yield by_state
        by_class = GaugeMetricFamily(
            "ternadmin_applies_classified",
            "Non-terminal applies by classification (claimable_now = stale, wedged, needs_human).",
            labels=["classification"],
        )
        counts = Counter(c.classification.value for c in classified)
        for name in ("claimable_now", "healthy", "needs_human", "wedged"):
            by_class.add_metric([name], counts.get(name, 0))
        yield by_class
        unclaimed = sum(1 for c in classified if c.unclaimed_alarm)
        alarm = GaugeMetricFamily(
            "ternadmin_schemabot_not_claiming",
            "1 while an apply has stayed claimable longer than TERNADMIN_UNCLAIMED_ALARM_INTERVALS "
            "sweep intervals: SchemaBot's operator is not claiming.",
        )
        alarm.add_metric([], 1.0 if unclaimed else 0.0)
        yield alarm
        count = GaugeMetricFamily(
            "ternadmin_schemabot_unclaimed_applies",
            "Applies claimable for longer than TERNADMIN_UNCLAIMED_ALARM_INTERVALS sweep "
            "intervals, by whom they are left to (ternadmin drives them too, or SchemaBot only).",
            labels=["claimed_by"],
        )
        by_claimer = Counter(c.claimed_by for c in classified if c.unclaimed_alarm)
        for claimer in ("ternadmin", "schemabot"):
            count.add_metric([claimer], by_claimer.get(claimer, 0))
        yield count

    def _sweep(self) -> Iterator[Metric]:
        last = SweepRun.objects.order_by("-started_at").first()
        last_ok = (
            SweepRun.objects.filter(ok=True)
            .annotate(finished_in=SecondsUntil("finished_at"))  # by the database's clock
            .order_by("-started_at")
            .first()
        )
        duration = GaugeMetricFamily("ternadmin_sweep_last_duration_seconds", "Last pass.")
        claimed = GaugeMetricFamily("ternadmin_sweep_last_claimed", "Units the last pass claimed.")
        if last is not None:
            duration.add_metric([], last.duration_s)
            claimed.add_metric([], last.claimed)
        yield duration
        yield claimed
        since = GaugeMetricFamily(
            "ternadmin_sweep_seconds_since_last_success",
            "Seconds since a sweep pass last finished without errors (+Inf: never).",
        )
        if last_ok is not None and last_ok.finished_at is not None:
            since.add_metric([], -float(last_ok.finished_in))
        else:
            since.add_metric([], float("inf"))
        yield since

    def _drives(self) -> Iterator[Metric]:
        drives = GaugeMetricFamily(
            "ternadmin_drives",
            "Recovery drives by trigger and outcome: every unfinished one, and those that ended "
            "within TERNADMIN_SWEEP_HISTORY_DAYS.",
            labels=["trigger", "outcome"],
        )
        rows = Drive.objects.values("trigger", "outcome").annotate(n=Count("id")).order_by()
        for row in rows:
            drives.add_metric([row["trigger"], row["outcome"]], row["n"])
        yield drives

    def _loops(self) -> Iterator[Metric]:
        loops = GaugeMetricFamily(
            "ternadmin_drive_loops",
            "Drive loops: configured (TERNADMIN_DRIVE_LOOPS) and running (proved alive within "
            "their last three heartbeats).",
            labels=["state"],
        )
        configured = loop_count()
        alive = (
            DriveLoop.objects.filter(slot__lt=configured, alive_until__gte=PreciseNow())
            .exclude(holder="")
            .count()
        )
        loops.add_metric(["configured"], configured)
        loops.add_metric(["running"], alive)
        yield loops
        leases = running_leases()
        running = GaugeMetricFamily(
            "ternadmin_drives_running", "Drives the loops are running now (one row each)."
        )
        running.add_metric([], len(leases))
        yield running
        oldest = GaugeMetricFamily(
            "ternadmin_driven_oldest_heartbeat_seconds",
            "The oldest heartbeat, by the database clock, among the applies the drive loops "
            "hold; it should stay near TERNADMIN_HEARTBEAT_SECONDS (heartbeats do not wait for "
            "steps), far below TERNADMIN_STALE_AFTER_SECONDS.",
        )
        age = oldest_heartbeat(leases) if leases else None
        oldest.add_metric([], float(age) if age is not None else 0.0)
        yield oldest
