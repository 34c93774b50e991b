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
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from applies import brake
from applies.classify import live
from applies.models import Drive, SweepRun


class TernadminCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self._applies()
        yield from self._sweep()
        yield from self._drives()
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
        last_ok = SweepRun.objects.filter(ok=True).order_by("-started_at").first()
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
            since.add_metric([], (timezone.now() - last_ok.finished_at).total_seconds())
        else:
            since.add_metric([], float("inf"))
        yield since

    def _drives(self) -> Iterator[Metric]:
        drives = GaugeMetricFamily(
            "ternadmin_drives",
            "Recovery drives in the history, by trigger and outcome.",
            labels=["trigger", "outcome"],
        )
        rows = Drive.objects.values("trigger", "outcome").annotate(n=Count("id")).order_by()
        for row in rows:
            drives.add_metric([row["trigger"], row["outcome"]], row["n"])
        yield drives
