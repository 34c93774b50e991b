"""LocalScale's tables (ternadmin's ``default`` database; the router sends them there).

Shaped after SchemaBot's LocalScale (``pkg/localscale/schema``), minus Vitess: a branch has
keyspaces, and each keyspace's tables live in a real database on the configured server
(``store.mariadb``) or, without one, as ``SchemaTable`` rows (``store.model``). The call log
and the fault rules are tables rather than memory so that several server processes (and the
test process) see the same ones.
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


class Keyspace(models.Model):
    """One keyspace of a branch: a database of its own, and the keyspace's VSchema (JSON text)."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="keyspaces")
    name = models.CharField(max_length=_NAME)
    vschema = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    objects: ClassVar[models.Manager[Keyspace]]

    class Meta:
        db_table = "localscale_keyspaces"
        constraints = [
            # GET …/keyspaces/{name}, and one database per (branch, keyspace).
            models.UniqueConstraint(fields=["branch", "name"], name="localscale_keyspace_name")
        ]

    def __str__(self) -> str:
        return f"{self.branch}/{self.name}"


class SchemaTable(models.Model):
    """A table of the schema-only model (no MySQL server configured): its CREATE statement."""

    keyspace = models.ForeignKey(Keyspace, on_delete=models.CASCADE, related_name="tables")
    name = models.CharField(max_length=_NAME)
    ddl = models.TextField()

    objects: ClassVar[models.Manager[SchemaTable]]

    class Meta:
        db_table = "localscale_tables"
        constraints = [
            models.UniqueConstraint(fields=["keyspace", "name"], name="localscale_table_name")
        ]

    def __str__(self) -> str:
        return f"{self.keyspace}.{self.name}"


class Password(models.Model):
    """A branch password: an account that reaches exactly its branch's keyspaces until
    ``expires_at``. Its secret is never stored (``passwords.secret_for`` derives it)."""

    public_id = models.CharField(max_length=16, unique=True)
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="passwords")
    name = models.CharField(max_length=_NAME)
    role = models.CharField(max_length=16)
    username = models.CharField(max_length=32, unique=True)
    ttl_seconds = models.PositiveIntegerField(default=0)  # 0: never expires
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    apply_identifier = models.CharField(max_length=255, blank=True, default="")

    objects: ClassVar[models.Manager[Password]]

    class Meta:
        db_table = "localscale_passwords"
        indexes = [
            # The expiry sweep: live accounts past their time.
            models.Index(fields=["deleted_at", "expires_at"], name="localscale_password_live")
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.branch})"


class DeployRequest(models.Model):
    organization = models.CharField(max_length=_NAME)
    database_name = models.CharField(max_length=_NAME)
    number = models.PositiveIntegerField()
    branch = models.CharField(max_length=_NAME)
    into_branch = models.CharField(max_length=_NAME, default="main")
    auto_cutover = models.BooleanField(default=True)
    auto_delete_branch = models.BooleanField(default=False)
    # What the branch changes over main, per keyspace, computed at creation from both schemas:
    # {keyspace: [{"table", "operation": create|alter|drop, "old", "new"}]} and {keyspace: vschema}.
    diff = models.JSONField(default=dict)
    vschema_diff = models.JSONField(default=dict)
    # What the deploy did to main, per keyspace, so that a revert can undo it.
    undo = models.JSONField(default=dict)
    # A fault rule asked for this request to fail validation (see Fault.effect).
    forced_error = models.CharField(max_length=255, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
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
    PASSWORD_DELETED = "password_deleted"
    VSCHEMA_UPDATED = "vschema_updated"
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
    ``effect`` changes what the call does instead: ``deploy_request_error`` makes the deploy
    request it creates fail validation (``error``), deterministically.
    """

    method = models.CharField(max_length=8, blank=True, default="")  # '' matches any
    path_regex = models.CharField(max_length=512, default="")
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.CharField(max_length=255, blank=True, default="")
    retry_after = models.PositiveIntegerField(null=True, blank=True)
    delay_ms = models.PositiveIntegerField(default=0)
    after = models.BooleanField(default=False)
    effect = models.CharField(max_length=32, blank=True, default="")
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
            "effect": self.effect,
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
