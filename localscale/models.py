"""LocalScale's tables (ternadmin's ``default`` database; the router sends them there).

Shaped after SchemaBot's ``localscale_branches`` / ``localscale_deploy_requests`` (domain.md
§7.2), minus Vitess: a branch's schema is its list of applied DDL statements. The call log and
the fault rules are tables rather than memory so that several server processes (and the test
process) see the same ones.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models

# Short enough that the (organization, database, name) unique key fits InnoDB's 3072-byte
# index limit in utf8mb4.
_NAME = 128


class Branch(models.Model):
    organization = models.CharField(max_length=_NAME)
    database_name = models.CharField(max_length=_NAME)
    name = models.CharField(max_length=_NAME)
    parent_branch = models.CharField(max_length=_NAME, blank=True, default="")
    ready = models.BooleanField(default=False)
    ready_at = models.DateTimeField()
    statements = models.JSONField(default=list)  # the branch's schema: applied DDL, in order
    created_at = models.DateTimeField()

    objects: ClassVar[models.Manager[Branch]]

    class Meta:
        db_table = "localscale_branches"
        constraints = [
            # Lookup by name, and the race arbiter of "Name has already been taken".
            models.UniqueConstraint(
                fields=["organization", "database_name", "name"], name="localscale_branch_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization}/{self.database_name}/{self.name}"


class DeployRequest(models.Model):
    organization = models.CharField(max_length=_NAME)
    database_name = models.CharField(max_length=_NAME)
    number = models.PositiveIntegerField()
    branch = models.CharField(max_length=_NAME)
    into_branch = models.CharField(max_length=_NAME, default="main")
    auto_cutover = models.BooleanField(default=True)
    auto_delete_branch = models.BooleanField(default=False)
    statements = models.JSONField(default=list)  # what the branch adds over main, at creation
    state = models.CharField(max_length=64, default="pending")  # the deployment state
    state_entered_at = models.DateTimeField()
    deployed = models.BooleanField(default=False)
    deployed_at = models.DateTimeField(null=True, blank=True)
    instant_ddl = models.BooleanField(default=False)
    cutover_requested = models.BooleanField(default=False)
    cancelled = models.BooleanField(default=False)
    reverted = models.BooleanField(default=False)
    revert_skipped = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    apply_identifier = models.CharField(max_length=255, blank=True, default="")

    objects: ClassVar[models.Manager[DeployRequest]]

    class Meta:
        db_table = "localscale_deploy_requests"
        constraints = [
            # Numbers are sequential per database; GET deploy-requests/{number}.
            models.UniqueConstraint(
                fields=["organization", "database_name", "number"], name="localscale_dr_number"
            )
        ]
        indexes = [
            # The open-request lookup: GET deploy-requests?branch=…&into_branch=….
            models.Index(
                fields=["organization", "database_name", "branch"], name="localscale_dr_branch"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization}/{self.database_name}#{self.number} ({self.state})"


class CallKind(models.TextChoices):
    READ = "read"
    BRANCH_CREATED = "branch_created"
    PASSWORD_CREATED = "password_created"
    SCHEMA_APPLIED = "schema_applied"
    DEPLOY_REQUEST_CREATED = "deploy_request_created"
    DEPLOY = "deploy"
    APPLY_DEPLOY = "apply_deploy"
    REVERT = "revert"
    SKIP_REVERT = "skip_revert"
    CANCEL = "cancel"


class Call(models.Model):
    """One API call: what it was, who made it (``X-Ternadmin-Apply``) and what it answered.

    ``effective`` says whether the call changed anything: a call answered with an injected
    fault *after* it ran is effective although the client saw an error.
    """

    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    kind = models.CharField(max_length=32, choices=CallKind.choices)
    apply_identifier = models.CharField(max_length=255, blank=True, default="")
    status = models.PositiveSmallIntegerField()
    effective = models.BooleanField(default=False)
    at = models.DateTimeField()

    objects: ClassVar[models.Manager[Call]]

    class Meta:
        db_table = "localscale_calls"
        indexes = [
            # Statistics per apply.
            models.Index(fields=["apply_identifier", "kind"], name="localscale_call_apply")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class Fault(models.Model):
    """Answer the next ``remaining`` calls matching method + path regex with a fault.

    ``status`` (a 5xx, a 429 with ``retry_after``, a 409 …) replaces the answer; with ``after``
    the call runs first (a lost answer). ``delay_ms`` delays the call (a slow or hung API).
    """

    method = models.CharField(max_length=8, blank=True, default="")  # '' matches any
    path_regex = models.CharField(max_length=512, default="")
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.CharField(max_length=255, blank=True, default="")
    retry_after = models.PositiveIntegerField(null=True, blank=True)
    delay_ms = models.PositiveIntegerField(default=0)
    after = models.BooleanField(default=False)
    remaining = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[models.Manager[Fault]]

    class Meta:
        db_table = "localscale_faults"

    def __str__(self) -> str:
        return f"{self.method or '*'} {self.path_regex} ×{self.remaining}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "method": self.method,
            "path": self.path_regex,
            "status": self.status,
            "message": self.message,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "after": self.after,
            "remaining": self.remaining,
        }


class Clock(models.Model):
    """The emulator's clock: real time (or, while frozen, the time it was frozen at) moved
    forward by ``offset_seconds``, with durations divided by ``time_scale`` (NULL: the
    ``LOCALSCALE_TIME_SCALE`` setting). One row, id 1."""

    offset_seconds = models.FloatField(default=0.0)
    time_scale = models.FloatField(null=True, blank=True)
    # Tests freeze the clock so that only their own `advance` moves it.
    frozen_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[Clock]]

    class Meta:
        db_table = "localscale_clock"

    def __str__(self) -> str:
        return f"+{self.offset_seconds:g}s ×{self.time_scale or 'default'}"
