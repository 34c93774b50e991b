"""The emulator's clock: real time (or the moment it was frozen) plus an offset, with every
emulated duration divided by the time scale. Tests freeze it and move it by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from django.conf import settings
from django.utils import timezone

from localscale.errors import ApiError
from localscale.models import Clock


@dataclass(frozen=True)
class Reading:
    """The emulator clock, read once per call."""

    now: datetime
    time_scale: float

    def after(self, start: datetime, seconds: float) -> datetime:
        return start + timedelta(seconds=seconds / self.time_scale)


def read_clock() -> Reading:
    clock = Clock.objects.filter(pk=1).first() or Clock()
    scale = clock.time_scale or float(settings.LOCALSCALE_TIME_SCALE)
    return Reading(clock_now(clock), scale)


def clock_now(clock: Clock) -> datetime:
    base = clock.frozen_at or timezone.now()
    return base + timedelta(seconds=clock.offset_seconds)


def move_clock(payload: dict[str, Any]) -> Clock:
    """Freeze or unfreeze the clock, move it forward, set its time scale (null: the setting's)."""
    advance = payload.get("advance_seconds", 0)
    if not _number(advance) or advance < 0:
        raise ApiError(400, "bad_request", "advance_seconds must be a number >= 0.")
    scale = payload.get("time_scale")
    if scale is not None and (not _number(scale) or scale <= 0):
        raise ApiError(400, "bad_request", "time_scale must be a number > 0, or null.")
    clock, _ = Clock.objects.get_or_create(pk=1)
    clock = Clock.objects.select_for_update().get(pk=clock.pk)
    if "frozen" in payload:
        _freeze(clock, bool(payload["frozen"]))
    clock.offset_seconds += float(advance)
    if "time_scale" in payload:
        clock.time_scale = None if scale is None else float(scale)
    clock.save()
    return clock


def _freeze(clock: Clock, frozen: bool) -> None:
    """Stop or restart real time passing, without a jump either way."""
    if frozen and clock.frozen_at is None:
        clock.frozen_at = timezone.now()
    elif not frozen and clock.frozen_at is not None:
        now = clock_now(clock)
        clock.frozen_at = None
        clock.offset_seconds = (now - timezone.now()).total_seconds()


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
