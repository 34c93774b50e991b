"""What a deploy request's transitions do to the databases: deploy into main, revert, close.

Each returns None, or why it failed (the request then ends in ``complete_error``).
"""

from __future__ import annotations

from localscale import store
from localscale.models import Branch, DeployRequest, Keyspace


def _main_keyspace(dr: DeployRequest, name: str) -> Keyspace:
    return Keyspace.objects.get(
        branch__organization=dr.organization,
        branch__database_name=dr.database_name,
        branch__name=dr.into_branch,
        name=name,
    )


def deploy_into_main(dr: DeployRequest) -> str | None:
    """The branch's changes go live on main: tables (online-DDL-like) and VSchema, per keyspace."""
    backend = store.current()
    undo: dict[str, dict[str, object]] = {}
    names = sorted(set(dr.diff) | set(dr.vschema_diff))
    for name in names:
        keyspace = _main_keyspace(dr, name)
        changes = [store.TableChange.from_json(item) for item in dr.diff.get(name, [])]
        try:
            tables = backend.deploy(keyspace, changes, dr.number)
        except store.StoreError as exc:
            _undo(dr, undo)  # keyspaces already done go back too: all or nothing
            return f"deploy failed in keyspace {name}: {exc.message}"
        undo[name] = {"tables": tables, "vschema": keyspace.vschema}
        if name in dr.vschema_diff:
            keyspace.vschema = dr.vschema_diff[name]
            keyspace.save(update_fields=["vschema"])
    dr.undo = undo
    return None


def revert_main(dr: DeployRequest) -> str | None:
    try:
        _undo(dr, dr.undo)
    except store.StoreError as exc:
        return f"revert failed: {exc.message}"
    return None


def _undo(dr: DeployRequest, undo: dict[str, dict[str, object]]) -> None:
    backend = store.current()
    for name, record in undo.items():
        keyspace = _main_keyspace(dr, name)
        backend.revert(keyspace, record["tables"])  # type: ignore[arg-type]
        keyspace.vschema = str(record["vschema"])
        keyspace.save(update_fields=["vschema"])


def close_window(dr: DeployRequest) -> str | None:
    """The revert window is over: drop what was kept for a revert; delete the branch if asked."""
    from localscale.branches import delete_branch

    backend = store.current()
    try:
        for name, record in dr.undo.items():
            backend.finish(_main_keyspace(dr, name), record["tables"])
    except store.StoreError as exc:
        return f"cleanup after the revert window failed: {exc.message}"
    if dr.auto_delete_branch:
        branch = Branch.objects.filter(
            organization=dr.organization, database_name=dr.database_name, name=dr.branch
        ).first()
        if branch is not None:
            delete_branch(branch)
    return None
