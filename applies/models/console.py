"""ternadmin's own tables, in its ``default`` database: the sweep's passes, the brake, the
drives and their loops, the API's tokens. Django's migrations manage them (unlike SchemaBot's
tables, ``applies.models.schemabot``)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from applies.dbclock import PreciseNow


class SweepRun(models.Model):
    """One pass of the reclaim sweep: what it found and did, for the console and /metrics."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=255)
    dry_run = models.BooleanField(default=False)
    ok = models.BooleanField(default=False)
    claimed = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    wedged = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    brake_engaged = models.BooleanField(default=False)
    duration_s = models.FloatField(default=0.0)
    report = models.JSONField(default=dict)

    class Meta:
        # Latest passes first (dashboard, metrics), and pruning by age.
        indexes = [models.Index(fields=["-started_at"], name="sweeprun_started")]

    def __str__(self) -> str:
        return f"sweep by {self.owner} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class Brake(models.Model):
    """The mass-staleness brake: one row; while engaged the sweep claims nothing."""

    engaged = models.BooleanField(default=False)
    reason = models.TextField(blank=True, default="")
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.CharField(max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return "brake engaged" if self.engaged else "brake released"


class Drive(models.Model):
    """One recovery drive of a claimed apply, from claim to end state or lease loss.

    A drive is a row, not a process: it records the claim (the lease tokens it drives under)
    and its schedule. The drive loops (``applies.drives.loops``) take the most overdue due row,
    hold it for one step (``held_by``/``held_until``, renewed while the step runs, so a step
    whose worker died is taken again once the hold expires), run one step of its driver and
    write when the next one is due. ``steps`` is the step sequence: a take moves it on, and a
    step's outcome is written only while it is still the step that was taken (a late or
    duplicate step writes nothing). A foreground drive (``recover``, inline mode) runs its
    steps in one process instead and is never taken by a loop.
    """

    class Outcome(models.TextChoices):
        QUEUED = "queued"  # manual mode: recorded, waiting for `manage.py drive <id>`
        RUNNING = "running"
        COMPLETED = "completed"  # reached an end state
        LEASE_LOST = "lease_lost"
        FAILED = "failed"  # the driver failed the apply with a clear error
        ERROR = "error"  # the drive gave up; the apply stays claimable once stale

    class Runner(models.TextChoices):
        LOOPS = "loops"  # stepped by the drive loops on the scheduler's workers
        FOREGROUND = "foreground"  # stepped by one process (recover, inline, manual)

    apply_id = models.PositiveBigIntegerField()
    apply_identifier = models.CharField(max_length=255)
    engine = models.CharField(max_length=50, blank=True, default="")
    owner = models.CharField(max_length=255)
    lease_token = models.CharField(max_length=64)
    # The operation row leased with the apply on the operation-level path; its heartbeat is
    # refreshed with the apply's (SchemaBot drives heartbeat the operation rows they hold).
    operation_id = models.PositiveBigIntegerField(null=True, blank=True)
    operation_lease_token = models.CharField(max_length=64, blank=True, default="")
    trigger = models.CharField(max_length=32)  # sweep, console, command
    requested_by = models.CharField(max_length=255, blank=True, default="")
    clause = models.CharField(max_length=64, blank=True, default="")
    claimed_state = models.CharField(max_length=100, blank=True, default="")
    end_state = models.CharField(max_length=100, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.QUEUED)
    runner = models.CharField(max_length=16, choices=Runner.choices, default=Runner.LOOPS)
    message = models.TextField(blank=True, default="")
    # The database's clock, like every other time of a drive: its age is measured against it.
    started_at = models.DateTimeField(db_default=PreciseNow())
    finished_at = models.DateTimeField(null=True, blank=True)
    # The schedule (database clock, ternadmin's database): when the next step is due, which
    # runner holds the drive for the step running now and until when.
    next_due_at = models.DateTimeField(null=True, blank=True)
    held_by = models.CharField(max_length=255, blank=True, default="")
    held_until = models.DateTimeField(null=True, blank=True)
    steps = models.PositiveIntegerField(default=0)
    last_step_at = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            # Recent drives on the dashboard; an apply's drives on its page.
            models.Index(fields=["-started_at"], name="drive_started"),
            models.Index(fields=["apply_id", "-started_at"], name="drive_apply"),
            # The loops' take ("running, due by now, oldest due first") and the heartbeat's
            # "every running drive", without reading finished history.
            models.Index(fields=["outcome", "next_due_at"], name="drive_due"),
        ]

    def __str__(self) -> str:
        return f"drive of {self.apply_identifier} ({self.outcome})"


class DriveLoop(models.Model):
    """One drive-loop slot: ``TERNADMIN_DRIVE_LOOPS`` rows bound how many loops run at once.

    A loop is a django-q2 task for (slot, generation). It takes the slot by writing its
    ``holder`` (only one delivery of a generation wins: the broker may deliver twice), proves
    it lives by pushing ``alive_until`` on, and ends by handing the slot to the next generation
    and enqueueing it. A slot whose ``alive_until`` passed (its worker was killed, its task was
    lost) is re-enqueued as a new generation by the sweep or a live loop; a late delivery of
    an old generation then finds the slot moved on and exits.
    """

    slot = models.PositiveIntegerField(primary_key=True)
    generation = models.PositiveIntegerField(default=0)
    holder = models.CharField(max_length=255, blank=True, default="")  # "" while enqueued
    alive_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    steps = models.PositiveIntegerField(default=0)  # steps run by this generation

    def __str__(self) -> str:
        return f"drive loop {self.slot} (generation {self.generation})"


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only the SHA-256 of the token is stored: the token
    itself is shown once, by ``manage.py create_api_token``, and cannot be read back.

    A token works until it is revoked (``manage.py api_tokens revoke``, or the admin) or its
    optional expiry passes; the row stays, so who had which token, and until when, is kept.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    key_hash = models.CharField(max_length=64, unique=True)  # the lookup on every API call
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"API token {self.name or self.pk} of {self.user}"

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"
