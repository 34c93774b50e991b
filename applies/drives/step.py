"""One step of a drive, the same for the loops and the foreground runner.

``step_once(taken, drivers)``: run exactly one step of the apply's driver under the drive's
lease, decide what the row says next (``Settled``), write it (``schedule.settle``, fenced by
the step sequence) and tell: the apply's timeline (``apply_logs``, source ternadmin) for an
error and for a drive that gives up, the process log for every event. The driver itself writes
the timeline of its progress (``applies.recovery.writer``).

Errors, and what they cost the drive:

- A database that refuses or drops the connection (``applies.db.unavailable``) is waited out:
  the step runs again after a heartbeat interval and the drive never ends for it (its lease
  may still be lost meanwhile, if its heartbeat could not be written either).
- Anything else that raises, and a driver that hands the apply back (the engine stayed
  unreachable through its retries), is a step error: the step runs again after a backoff,
  and ``TERNADMIN_DRIVE_MAX_ERRORS`` of them in a row end the drive as ``error``. The drive
  then stops being heartbeated, so the apply goes stale and is claimed again normally.
- A step whose worker died or hung never reports anything: the take that finds its hold
  lapsed has counted it already (``schedule.take_due``). The step runs again, unless that was
  the last error allowed: then the drive ends here, without running it, as above.
"""

from __future__ import annotations

import logging

from django.conf import settings

from applies import db
from applies.drives.schedule import Settled, Taken, confirm_hold, settle
from applies.engines import Drivers
from applies.engines.base import Fence, Next, StepSuperseded, Then
from applies.leases import Lease
from applies.models import Drive
from applies.recovery.writer import DriveWriter
from applies.vocabulary import LogEvent, LogLevel

logger = logging.getLogger(__name__)
Outcome = Drive.Outcome
BACKOFF_CAP_SECONDS = 60.0

_ENDS = {
    Then.FINISHED: Outcome.COMPLETED,
    Then.FAILED: Outcome.FAILED,
    Then.LEASE_LOST: Outcome.LEASE_LOST,
}


def apply_lease(drive: Drive) -> Lease:
    return Lease("applies", drive.apply_id, drive.lease_token, drive.owner)


def step_once(taken: Taken, drivers: Drivers) -> Settled:
    """Run one step, record its outcome on the drive's row, and tell; returns the outcome."""
    drive = taken.drive
    if taken.lapsed and drive.consecutive_errors >= settings.TERNADMIN_DRIVE_MAX_ERRORS:
        result = _counted(drive.consecutive_errors, taken.lapsed)  # gives up
    else:
        if taken.lapsed:
            _tell_lapsed(taken)
        result = run_step(drive, drivers, lambda: confirm_hold(taken))
    written = settle(taken, result)
    tell(taken, result, written)
    return result


def run_step(drive: Drive, drivers: Drivers, still_mine: Fence) -> Settled:
    """One step of ``drive``'s driver; never raises. ``still_mine``: whether the step still
    holds the drive, asked before each engine call that creates or changes something."""
    try:
        driver = drivers.driver_for(drive.engine, drive.apply_id)
        if driver is None:
            message = f"no driver for engine {drive.engine or '(none)'}"
            return Settled(None, Outcome.ERROR, message=message, error=message)
        try:
            outcome = driver.step(apply_lease(drive), still_mine=still_mine)
        finally:
            driver.close()
    except StepSuperseded as exc:
        # Another runner holds the drive now (or it ended): it decides what comes next, and
        # this outcome is dropped when settled. Not a step error: nothing failed.
        logger.error("drive %s step %s stopped: %s", drive.pk, drive.steps, exc)
        return Settled(0.0, errors=drive.consecutive_errors)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if db.unavailable(exc):
            delay = float(settings.TERNADMIN_HEARTBEAT_SECONDS)
            return Settled(delay, errors=drive.consecutive_errors, error=error, unavailable=True)
        logger.debug("drive %s step %s raised", drive.pk, drive.steps, exc_info=True)
        return _step_error(drive, error)
    return _after(drive, outcome)


def _after(drive: Drive, outcome: Next) -> Settled:
    if outcome.then in (Then.CONTINUE, Then.POLL):
        return Settled(outcome.delay)
    if outcome.then is Then.HANDED_BACK:
        return _step_error(drive, outcome.message)
    return Settled(None, _ENDS[outcome.then], end_state=outcome.state, message=outcome.message)


def _step_error(drive: Drive, error: str) -> Settled:
    return _counted(drive.consecutive_errors + 1, error)


def _counted(errors: int, error: str) -> Settled:
    """The outcome of the ``errors``-th step error in a row: retry after a backoff, or give up
    at ``TERNADMIN_DRIVE_MAX_ERRORS``."""
    if errors >= settings.TERNADMIN_DRIVE_MAX_ERRORS:
        message = f"gave up after {errors} consecutive step errors; the last: {error}"
        return Settled(None, Outcome.ERROR, message=message, errors=errors, error=error)
    return Settled(backoff(errors), errors=errors, error=error)


def backoff(errors: int) -> float:
    """Seconds before retrying a step that failed ``errors`` times in a row: the engine poll
    interval, doubling, at most a minute."""
    poll = float(settings.TERNADMIN_ENGINE_POLL_SECONDS)
    return min(BACKOFF_CAP_SECONDS, poll * 2 ** (errors - 1))


def tell(taken: Taken, result: Settled, written: bool) -> None:
    """The process log always; the apply's timeline for errors and for a drive that gave up."""
    drive = taken.drive
    where = f"drive {drive.pk} (apply {drive.apply_id} {drive.apply_identifier}) step {taken.step}"
    if not written:
        logger.warning("%s: outcome dropped: the drive was taken or ended meanwhile", where)
        return
    if result.ended:
        logger.info(
            "%s: drive ended %s %s: %s", where, result.outcome, result.end_state, result.message
        )
    elif result.unavailable:
        logger.warning(
            "%s: a database refused or lost the connection (%s); next try in %.1fs",
            where,
            result.error,
            result.delay,
        )
    elif result.error:
        logger.warning(
            "%s failed (%s in a row): %s; next try in %.1fs",
            where,
            result.errors,
            result.error,
            result.delay,
        )
    else:
        logger.debug("%s: next in %.1fs", where, result.delay)
    if result.unavailable:
        return  # the database that would hold the timeline row is the one refusing
    if result.outcome == Outcome.ERROR:
        _timeline(
            drive,
            f"ternadmin drive {drive.pk} {result.message}; the apply is left as "
            "it is and can be claimed again once its heartbeat is stale",
            LogLevel.ERROR,
        )
    elif result.error and not result.ended:
        _timeline(
            drive,
            f"ternadmin drive {drive.pk}: step failed ({result.errors} in a row): "
            f"{result.error}; retrying in {result.delay:.0f}s",
            LogLevel.WARN,
        )


def _tell_lapsed(taken: Taken) -> None:
    drive = taken.drive
    where = f"drive {drive.pk} (apply {drive.apply_id} {drive.apply_identifier})"
    count = f"{drive.consecutive_errors} in a row"
    logger.warning(
        "%s: %s (%s); running it again as step %s", where, taken.lapsed, count, taken.step
    )
    _timeline(
        drive,
        f"ternadmin drive {drive.pk}: {taken.lapsed} ({count}); running it again",
        LogLevel.WARN,
    )


def _timeline(drive: Drive, message: str, level: LogLevel) -> None:
    try:
        writer = DriveWriter(apply_lease(drive), drive.operation_id)
        writer.log(message, event=LogEvent.ERROR, level=level, drive=drive.pk)
    except Exception as exc:  # the drive goes on; the process log has the event already
        logger.warning("drive %s: could not write the apply's timeline: %s", drive.pk, exc)
