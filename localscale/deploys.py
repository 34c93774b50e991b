"""Deploy requests: what their endpoints do. Callers hold ``database_lock`` for the whole call.

One call per database at a time keeps the rules simple and true under a threaded server:
sequential numbers, one deploy in flight, and transitions (with their effects on ``main``)
applied exactly once. A request's diff is computed when it is opened, from the two branches'
schemas and VSchemas, keyspace by keyspace.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Max

from localscale import ddl, machine, store
from localscale.branches import (
    MAIN_BRANCH,
    get_branch,
    keyspaces,
    ready_branch,
    text,
    vschema_equal,
)
from localscale.clock import Reading
from localscale.errors import ApiError
from localscale.models import Branch, DeployRequest


def get_deploy_request(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    dr = DeployRequest.objects.filter(organization=org, database_name=db, number=number).first()
    if dr is None:
        raise ApiError(404, "not_found", f"Deploy request {number} was not found.")
    machine.advance(dr, reading)
    return dr


def list_deploy_requests(
    org: str, db: str, filters: dict[str, str], reading: Reading
) -> list[DeployRequest]:
    """The documented filters: ``state`` (open | closed), ``branch``, ``into_branch``."""
    wanted = filters.get("state", "")
    if wanted not in {"", "open", "closed"}:
        raise ApiError(422, "unprocessable", "state must be open or closed.")
    found = DeployRequest.objects.filter(organization=org, database_name=db).order_by("-number")
    if filters.get("branch"):
        found = found.filter(branch=filters["branch"])
    if filters.get("into_branch"):
        found = found.filter(into_branch=filters["into_branch"])
    requests = list(found)
    for dr in requests:
        machine.advance(dr, reading)
    if wanted:
        requests = [dr for dr in requests if machine.is_open(dr.state) == (wanted == "open")]
    return requests


def create_deploy_request(
    org: str,
    db: str,
    payload: dict[str, Any],
    apply_identifier: str,
    reading: Reading,
    forced_error: str,
) -> DeployRequest:
    branch = ready_branch(org, db, text(payload, "branch"), reading)
    into = get_branch(org, db, text(payload, "into_branch", MAIN_BRANCH), reading)
    if branch.name == into.name:
        raise ApiError(422, "unprocessable", "A deploy request needs two different branches.")
    diff, vschema_diff = compute_diff(branch, into)
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
        diff=diff,
        vschema_diff=vschema_diff,
        forced_error=forced_error,
        state=machine.PENDING,
        state_entered_at=reading.now,
        created_at=reading.now,
        apply_identifier=apply_identifier,
    )


def compute_diff(
    branch: Branch, into: Branch
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Per keyspace: the tables ``branch`` creates, alters or drops against ``into``, and its
    VSchema where it differs."""
    backend = store.current()
    targets = {keyspace.name: keyspace for keyspace in keyspaces(into)}
    diff: dict[str, list[dict[str, Any]]] = {}
    vschema_diff: dict[str, str] = {}
    for keyspace in keyspaces(branch):
        target = targets.get(keyspace.name)
        if target is None:
            raise ApiError(422, "unprocessable", f"{into.name} has no keyspace {keyspace.name}.")
        changes = table_changes(backend.tables(keyspace), backend.tables(target))
        if changes:
            diff[keyspace.name] = [change.as_json() for change in changes]
        if not vschema_equal(keyspace.vschema, target.vschema):
            vschema_diff[keyspace.name] = keyspace.vschema
    return diff, vschema_diff


def table_changes(ours: dict[str, str], theirs: dict[str, str]) -> list[store.TableChange]:
    changes = []
    for name in sorted(set(ours) | set(theirs)):
        new, old = ours.get(name), theirs.get(name)
        if old is None:
            changes.append(store.TableChange(name, "create", None, new))
        elif new is None:
            changes.append(store.TableChange(name, "drop", old, None))
        elif ddl.normalized(new) != ddl.normalized(old):
            changes.append(store.TableChange(name, "alter", old, new))
    return changes


def deploy(
    org: str, db: str, number: int, payload: dict[str, Any], reading: Reading
) -> DeployRequest:
    dr = get_deploy_request(org, db, number, reading)
    if dr.deployed:
        raise ApiError(409, "conflict", f"Deploy request {number} has already been deployed.")
    if dr.state == machine.PENDING:
        raise ApiError(409, "conflict", f"Deploy request {number} is still being validated.")
    if dr.state != machine.READY:
        raise ApiError(422, "not_deployable", f"Deploy request {number} is {dr.state}.")
    if _deploy_in_flight(org, db, reading):
        raise ApiError(409, "conflict", "Another deploy request is being deployed.")
    dr.deployed = True
    dr.deployed_at = reading.now
    dr.instant_ddl = bool(payload.get("instant_ddl", False))
    machine.enter(dr, machine.SUBMITTING, reading.now)
    dr.save()
    return dr


def _deploy_in_flight(org: str, db: str, reading: Reading) -> bool:
    for other in DeployRequest.objects.filter(organization=org, database_name=db, deployed=True):
        machine.advance(other, reading)
        if other.state in machine.IN_FLIGHT_STATES:
            return True
    return False


def apply_deploy(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    dr = _in_state(org, db, number, {machine.PENDING_CUTOVER}, "cut over", reading)
    dr.cutover_requested = True
    machine.enter(dr, machine.IN_PROGRESS_CUTOVER, reading.now)
    dr.save()
    return dr


def revert(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    dr = _in_state(org, db, number, {machine.COMPLETE_PENDING_REVERT}, "revert", reading)
    dr.reverted = True
    machine.enter(dr, machine.IN_PROGRESS_REVERT, reading.now)
    dr.save()
    return dr


def skip_revert(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    states = {machine.COMPLETE_PENDING_REVERT}
    dr = _in_state(org, db, number, states, "skip the revert of", reading)
    dr.revert_skipped = True
    machine.enter(dr, machine.COMPLETE, reading.now)
    dr.save()
    return dr


# Not yet deployed: cancelling closes the request at once. Deploying: the deploy is stopped.
_CANCEL_NOW = {machine.PENDING, machine.READY, machine.NO_CHANGES}
_CANCEL_DEPLOY = {machine.SUBMITTING, machine.QUEUED, machine.IN_PROGRESS, machine.PENDING_CUTOVER}


def cancel(org: str, db: str, number: int, reading: Reading) -> DeployRequest:
    dr = _in_state(org, db, number, _CANCEL_NOW | _CANCEL_DEPLOY, "cancel", reading)
    dr.cancelled = True
    state = machine.COMPLETE_CANCEL if dr.state in _CANCEL_NOW else machine.IN_PROGRESS_CANCEL
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
