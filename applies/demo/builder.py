"""Row generation: turns the planned applies into rows, chunk by chunk.

Each apply's plan, apply and operation rows are made here; its tasks, logs and control
requests come from ``children``. Ids are assigned in insert order, so children point at parents
without reading anything back.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator

from applies.demo.catalogue import DROP, ERRORS, ORG, PEOPLE, REPOSITORIES, Kind
from applies.demo.children import ChildRows
from applies.demo.clock import HOUR, MINUTE, Clock
from applies.demo.formats import Naming, to_json
from applies.demo.paths import path_agos, path_to
from applies.demo.planner import Planner
from applies.demo.shapes import Database, Lease, Prepared, Spec, Times
from applies.demo.world import World
from applies.demo.writer import Batch, Row, empty_batch
from applies.engines.planetscale.types import deterministic_branch_name
from applies.models import Apply, ApplyOperation, Lock, Plan
from applies.states import ApplyState
from applies.vocabulary import CutoverPolicy, Engine, OnFailure
from applies.windows import Windows

A = ApplyState


class Builder:
    """Generates specs and rows from one seeded RNG consumed in a fixed order (same seed, same
    data): the fleet, then the free targets, lease owners and identifier salt, then the locks,
    then each apply's spec followed by its rows."""

    def __init__(
        self, rng: random.Random, read_clock: Callable[[], Clock], windows: Windows
    ) -> None:
        self.rng, self.read_clock = rng, read_clock
        self.clock = read_clock()
        self.counts: Counter[str] = Counter()
        self.world = World(rng)
        self.planner = Planner(rng, self.world.targets, windows)
        self.owners = [
            f"host-{h}/{rng.randint(1000, 65000)}/driver-{d}" for h in "ab" for d in (1, 2, 3)
        ]
        self.naming = Naming(rng, rng.getrandbits(64))
        self.children = ChildRows(rng, self.naming)

    def locks(self) -> Batch:
        return {Lock: self.world.lock_rows(self.clock)}

    def batches(self, total: int, chunk_size: int) -> Iterator[tuple[int, Batch]]:
        """Rows for ``total`` applies, ``chunk_size`` applies at a time, oldest first.

        The recent applies come last, in a chunk of their own timed by a second reading of the
        clock: a seed that takes minutes must still leave its fresh applies fresh (and its
        stale ones stale by the intended margin) when it is done.
        """
        tail = self.planner.tail_specs(total)
        history = total - len(tail)
        specs = self.planner.history_specs(history, tail)
        yield from self._chunks(specs, 1, history, chunk_size)
        self.clock = self.read_clock()
        yield from self._chunks(iter(tail), history + 1, total, chunk_size)

    def _chunks(
        self, specs: Iterator[Spec], first_id: int, last_id: int, chunk_size: int
    ) -> Iterator[tuple[int, Batch]]:
        batch = empty_batch()
        for apply_id, spec in enumerate(specs, start=first_id):
            self._add(batch, apply_id, spec)
            if apply_id % chunk_size == 0 or apply_id == last_id:
                yield apply_id, batch
                batch = empty_batch()

    def _add(self, batch: Batch, apply_id: int, spec: Spec) -> None:
        a = self._prepare(apply_id, spec)
        batch[Plan].append(self._plan_row(a))
        batch[Apply].append(self._apply_row(a))
        batch[ApplyOperation].append(self._operation_row(a))
        self.children.add(batch, a)

    def _prepare(self, apply_id: int, spec: Spec) -> Prepared:
        rng, db, clock = self.rng, spec.target.database, self.clock
        count = rng.choice((1, 1, 2, 3)) if spec.detail else 1
        changes = tuple(sorted(rng.sample(range(len(db.changes)), count)))
        drops = any(db.changes[i].action == DROP for i in changes)
        options = self._options(spec, allow_unsafe=drops)
        path = path_to(rng, spec.state, spec.engine, options)
        lease = self._lease(spec)
        agos = (lease.acquired_ago, spec.started_ago, spec.completed_ago, spec.created_ago)
        failing = spec.state in (A.FAILED, A.FAILED_RETRYABLE, A.PAUSED)
        created = clock.epoch - spec.created_ago
        return Prepared(
            apply_id, spec, clock,
            identifier=self.naming.identifier("apply", created, apply_id),
            plan_identifier=self.naming.identifier("plan", created, apply_id),
            changes=changes, options=options, options_json=to_json(options),
            path=path, path_agos=path_agos(spec, len(path)),
            lease=lease, times=Times(*map(clock.at, (*agos, spec.updated_ago))),
            instant=rng.random() < 0.1,
            error=rng.choice(ERRORS[spec.engine]) if failing else None,
            pull_request=100 + apply_id // 2 + rng.randrange(40),
        )  # fmt: skip

    def _options(self, spec: Spec, *, allow_unsafe: bool) -> dict[str, object]:
        """ApplyOptions in Go's field order; states that need an option get it."""
        rng, state, ps = self.rng, spec.state, spec.engine == Engine.PLANETSCALE
        options: dict[str, object] = {"allow_unsafe": True} if allow_unsafe else {}
        if state in (A.WAITING_FOR_CUTOVER, A.RECOVERING) or rng.random() < 0.08:
            options["defer_cutover"] = True
        if ps and (state == A.WAITING_FOR_DEPLOY or rng.random() < 0.05):
            options["defer_deploy"] = True
        if ps and state not in (A.REVERT_WINDOW, A.REVERTED) and rng.random() < 0.2:
            options["skip_revert"] = True
        if rng.random() < 0.1:
            options["volume"] = rng.randint(1, 11)
        return options

    def _lease(self, spec: Spec) -> Lease:
        # Nobody clears a lease on completion, so most finished applies keep their last one.
        if spec.started_ago is None or (spec.kind is Kind.HISTORY and self.rng.random() < 0.2):
            return Lease()
        acquired = spec.started_ago
        if spec.attempt:  # re-dispatched since it started
            acquired = self.rng.randint(spec.updated_ago, spec.started_ago)
        return Lease(self.rng.choice(self.owners), self.naming.uuid(), acquired)

    def _plan_row(self, a: Prepared) -> Row:
        spec, db = a.spec, a.spec.target.database
        created = a.clock.at(spec.created_ago + self.rng.randint(MINUTE, 2 * HOUR))
        head_sha = f"{self.rng.getrandbits(160):040x}"
        return (
            a.id, a.plan_identifier, db.name, db.database_type, spec.target.deployment, "",
            db.repository, a.pull_request, f"schema/{db.name}", spec.target.environment,
            db.desired(a.changes), self._plan_data(db, a.changes), head_sha, created,
        )  # fmt: skip

    @staticmethod
    def _plan_data(db: Database, changes: tuple[int, ...]) -> str:
        if (cached := db.plan_data.get(changes)) is None:
            picked = (db.changes[i] for i in changes)
            tables = [
                {"namespace": db.name, "table": c.table, "ddl": c.ddl, "operation": c.action}
                for c in picked
            ]
            cached = db.plan_data[changes] = to_json({db.name: {"tables": tables}})
        return cached

    def _apply_row(self, a: Prepared) -> Row:
        spec, db, target = a.spec, a.spec.target.database, a.spec.target
        by_pr = self.rng.random() < 0.9
        caller = f"{db.repository}#{a.pull_request}" if by_pr else f"cli:{self.rng.choice(PEOPLE)}"
        installation = 48_000_000 + REPOSITORIES.index(db.repository) if by_pr else 0
        return (
            a.id, a.identifier, db.lock_id, a.id, db.name, db.database_type, db.repository,
            a.pull_request, target.environment, target.deployment, caller, installation, "",
            spec.engine, spec.state, a.error, a.options_json, spec.attempt, a.lease.owner,
            a.lease.token, *a.times,
        )  # fmt: skip

    def _operation_row(self, a: Prepared) -> Row:
        """The apply's one operation: same state and heartbeat, its own lease token."""
        spec = a.spec
        token = self.naming.uuid() if a.lease.token else ""
        metadata = self._resume_metadata(a) if spec.engine == Engine.PLANETSCALE else None
        context = a.identifier if metadata else None
        on_failure = OnFailure.PAUSE if spec.state == A.PAUSED else OnFailure.HALT
        return (
            a.id, a.id, spec.target.deployment, "", context, metadata, spec.state, a.error,
            CutoverPolicy.ROLLING, on_failure, a.lease.owner, token, *a.times,
        )  # fmt: skip

    @staticmethod
    def _resume_metadata(a: Prepared) -> str | None:
        """PlanetScale's persisted resume state at the furthest phase the apply reached
        (docs/schemabot.md, "PlanetScale resume state").

        Shaped as Go's json.Marshal writes psMetadata: ``deploy_request_id`` is always there (0
        until a deploy request exists); the URL, ``deployed_at``, ``is_instant`` and
        ``deferred_deploy`` are omitted while empty.
        """
        if A.PREPARING_BRANCH not in a.path:
            return None
        db = a.spec.target.database
        meta: dict[str, object] = {
            "branch_name": deterministic_branch_name(db.name, a.plan_identifier),
            "deploy_request_id": 0,
        }
        if A.VALIDATING_DEPLOY_REQUEST in a.path:
            db.deploy_requests += 1
            meta["deploy_request_id"] = db.deploy_requests
            meta["deploy_request_url"] = (
                f"https://app.planetscale.com/{ORG}/{db.name}/deploy-requests/{db.deploy_requests}"
            )
        if A.RUNNING in a.path:
            meta["deployed_at"] = a.clock.rfc3339(a.path_agos[a.path.index(A.RUNNING)])
        if A.VALIDATING_DEPLOY_REQUEST in a.path:  # both are known once the DR exists
            if a.instant:
                meta["is_instant"] = True
            if a.options.get("defer_deploy"):
                meta["deferred_deploy"] = True
        return to_json(meta)
