"""What LocalScale's endpoints do. Callers hold ``database_lock`` for the whole call.

One call per database at a time keeps the rules simple and true under a threaded server:
sequential deploy-request numbers, one deploy in flight, and transitions (with their effects on
``main``) applied exactly once.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, TypeGuard

from django.db.models import Max
from django.utils import timezone

from applies.engines.base import (
    DeployRequestState,
    is_open,
    missing_statements,
    normalize_statement,
)
from localscale import machine
from localscale.machine import MAIN_BRANCH, Reading
from localscale.models import Branch, Call, Clock, DeployRequest, Fault

_DR = DeployRequestState
_BRANCH_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")


class ApiError(Exception):
    """An error answer: HTTP status, a machine-readable code and a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def database_lock(org: str, db: str, reading: Reading) -> Branch:
    """Lock the database (its ``main`` row, created on first use) for the rest of the call."""
    main, _ = Branch.objects.get_or_create(
        organization=org,
        database_name=db,
        name=MAIN_BRANCH,
        defaults={"ready": True, "ready_at": reading.now, "created_at": reading.now},
    )
    return Branch.objects.select_for_update().get(pk=main.pk)


# --- Branches ---------------------------------------------------------------------------------


def get_branch(org: str, db: str, name: str, reading: Reading) -> Branch:
    branch = Branch.objects.filter(organization=org, database_name=db, name=name).first()
    if branch is None:
        raise ApiError(404, "not_found", f"Branch {name} was not found.")
    return machine.refresh_branch(branch, reading)


def list_branches(org: str, db: str, reading: Reading) -> list[Branch]:
    branches = Branch.objects.filter(organization=org, database_name=db).order_by("pk")
    return [machine.refresh_branch(branch, reading) for branch in branches]


def create_branch(org: str, db: str, payload: dict[str, Any], reading: Reading) -> Branch:
    name = _text(payload, "name")
    if not _BRANCH_NAME.match(name):
        raise ApiError(422, "unprocessable", f"Branch name {name!r} is not valid.")
    parent = get_branch(org, db, _text(payload, "parent_branch", MAIN_BRANCH), reading)
    if Branch.objects.filter(organization=org, database_name=db, name=name).exists():
        raise ApiError(409, "conflict", "Name has already been taken")
    return Branch.objects.create(
        organization=org,
        database_name=db,
        name=name,
        parent_branch=parent.name,
        statements=list(parent.statements),
        ready=False,
        ready_at=reading.after(reading.now, machine.BRANCH_READY_SECONDS),
        created_at=reading.now,
    )


def ready_branch(org: str, db: str, name: str, reading: Reading) -> Branch:
    branch = get_branch(org, db, name, reading)
    if not branch.ready:
        raise ApiError(422, "branch_not_ready", f"Branch {name} is not ready yet.")
    return branch


def create_password(org: str, db: str, name: str, reading: Reading) -> dict[str, Any]:
    branch = ready_branch(org, db, name, reading)
    return {
        "id": secrets.token_hex(6),
        "name": f"{branch.name}-password",
        "role": "admin",
        "username": f"localscale-{secrets.token_hex(4)}",
        "plain_text": secrets.token_urlsafe(24),
        "access_host_url": "127.0.0.1",
        "ttl_seconds": 3600,
    }


def apply_schema(org: str, db: str, name: str, payload: dict[str, Any], reading: Reading) -> Branch:
    """Run DDL on a branch. Like MySQL, DDL that already ran (the table or column exists)
    is an error: a client must diff the branch first, never re-run its changes."""
    branch = ready_branch(org, db, name, reading)
    if branch.name == MAIN_BRANCH:
        raise ApiError(422, "unprocessable", "Direct DDL on main is not allowed: use a branch.")
    statements = payload.get("statements")
    if not isinstance(statements, list) or not all(
        isinstance(item, str) and normalize_statement(item) for item in statements
    ):
        raise ApiError(400, "bad_request", "statements must be a list of DDL strings.")
    have = {normalize_statement(statement) for statement in branch.statements}
    for statement in statements:
        if normalize_statement(statement) in have:
            raise ApiError(
                422, "duplicate", f"Statement already applied to {name}: {statement[:120]}"
            )
        have.add(normalize_statement(statement))
    branch.statements = branch.statements + statements
    branch.save(update_fields=["statements"])
    return branch


# --- Deploy requests --------------------------------------------------------------------------


def get_deploy_request(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    dr = DeployRequest.objects.filter(organization=org, database_name=db, number=number).first()
    if dr is None:
        raise ApiError(404, "not_found", f"Deploy request {number} was not found.")
    machine.advance(dr, reading)
    return dr


def list_deploy_requests(
    org: str, db: str, filters: dict[str, str], reading: Reading
) -> list[DeployRequest]:
    found = DeployRequest.objects.filter(organization=org, database_name=db).order_by("number")
    if filters.get("branch"):
        found = found.filter(branch=filters["branch"])
    if filters.get("into_branch"):
        found = found.filter(into_branch=filters["into_branch"])
    requests = list(found)
    for dr in requests:
        machine.advance(dr, reading)
    wanted = filters.get("state", "")
    if wanted in {"open", "closed"}:
        requests = [dr for dr in requests if is_open(dr.state) == (wanted == "open")]
    return requests


def create_deploy_request(
    org: str, db: str, payload: dict[str, Any], apply_identifier: str, reading: Reading
) -> DeployRequest:
    branch = ready_branch(org, db, _text(payload, "branch"), reading)
    into = get_branch(org, db, _text(payload, "into_branch", MAIN_BRANCH), reading)
    if branch.name == into.name:
        raise ApiError(422, "unprocessable", "A deploy request needs two different branches.")
    last = DeployRequest.objects.filter(organization=org, database_name=db).aggregate(
        last=Max("number")
    )["last"]
    return DeployRequest.objects.create(
        organization=org,
        database_name=db,
        number=(last or 0) + 1,
        branch=branch.name,
        into_branch=into.name,
        auto_cutover=bool(payload.get("auto_cutover", True)),
        auto_delete_branch=bool(payload.get("auto_delete_branch", False)),
        statements=missing_statements(branch.statements, into.statements),
        state=_DR.PENDING,
        state_entered_at=reading.now,
        created_at=reading.now,
        apply_identifier=apply_identifier,
    )


def deploy(
    org: str, db: str, number: int, payload: dict[str, Any], reading: Reading
) -> DeployRequest:
    dr = get_deploy_request(org, db, number, reading)
    if dr.deployed:
        raise ApiError(409, "conflict", f"Deploy request {number} has already been deployed.")
    if dr.state == _DR.PENDING:
        raise ApiError(409, "conflict", f"Deploy request {number} is still being validated.")
    if dr.state != _DR.READY:
        raise ApiError(422, "not_deployable", f"Deploy request {number} is {dr.state}.")
    if _deploy_in_flight(org, db, reading):
        raise ApiError(409, "conflict", "Another deploy request is being deployed.")
    dr.deployed = True
    dr.deployed_at = reading.now
    dr.instant_ddl = bool(payload.get("instant_ddl", False))
    machine.enter(dr, _DR.SUBMITTING, reading.now)
    dr.save()
    return dr


def _deploy_in_flight(org: str, db: str, reading: Reading) -> bool:
    for other in DeployRequest.objects.filter(organization=org, database_name=db, deployed=True):
        machine.advance(other, reading)
        if other.state in machine.IN_FLIGHT_STATES:
            return True
    return False


def apply_deploy(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    dr = _in_state(org, db, number, {_DR.PENDING_CUTOVER}, "cut over", reading)
    dr.cutover_requested = True
    machine.enter(dr, _DR.IN_PROGRESS_CUTOVER, reading.now)
    dr.save()
    return dr


def revert(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    dr = _in_state(org, db, number, {_DR.COMPLETE_PENDING_REVERT}, "revert", reading)
    dr.reverted = True
    machine.enter(dr, _DR.IN_PROGRESS_REVERT, reading.now)
    dr.save()
    return dr


def skip_revert(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    dr = _in_state(org, db, number, {_DR.COMPLETE_PENDING_REVERT}, "skip the revert of", reading)
    dr.revert_skipped = True
    machine.enter(dr, _DR.COMPLETE, reading.now)
    dr.save()
    return dr


# Not yet deployed: cancelling closes the request at once. Deploying: the deploy is stopped.
_CANCEL_NOW = {_DR.PENDING, _DR.READY, _DR.NO_CHANGES}
_CANCEL_DEPLOY = {_DR.SUBMITTING, _DR.QUEUED, _DR.IN_PROGRESS, _DR.PENDING_CUTOVER}


def cancel(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    dr = _in_state(org, db, number, _CANCEL_NOW | _CANCEL_DEPLOY, "cancel", reading)
    dr.cancelled = True
    state = _DR.COMPLETE_CANCEL if dr.state in _CANCEL_NOW else _DR.IN_PROGRESS_CANCEL
    machine.enter(dr, state, reading.now)
    dr.save()
    return dr


def _in_state(
    org: str, db: str, number: int, states: set[str], verb: str, reading: Reading
) -> DeployRequest:
    dr = get_deploy_request(org, db, number, reading)
    if dr.state not in states:
        raise ApiError(409, "conflict", f"Cannot {verb} deploy request {number}: it is {dr.state}.")
    return dr


def _text(payload: dict[str, Any], key: str, default: str | None = None) -> str:
    value = payload.get(key, default)
    if not isinstance(value, str) or not value:
        raise ApiError(400, "bad_request", f"{key} is required (a string).")
    return value


# --- Admin ------------------------------------------------------------------------------------


def reset() -> dict[str, int]:
    """Forget everything: branches, deploy requests, calls, faults and the clock."""
    deleted = {}
    for model in (DeployRequest, Branch, Call, Fault, Clock):
        deleted[model._meta.db_table], _ = model.objects.all().delete()
    return deleted


def move_clock(payload: dict[str, Any]) -> Clock:
    """Freeze or unfreeze the emulator clock, move it forward, set its time scale (null: the
    setting's)."""
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
        now = machine.clock_now(clock)
        clock.frozen_at = None
        clock.offset_seconds = (now - timezone.now()).total_seconds()


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
