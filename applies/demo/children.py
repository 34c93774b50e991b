"""An apply's child rows: one task per change, and for applies with detail the state-transition
logs and control requests (each with the log it writes)."""

from __future__ import annotations

import random

from applies.demo.catalogue import ALTER, COPY_DONE, NOT_STARTED, PEOPLE, Kind
from applies.demo.clock import HOUR, MINUTE
from applies.demo.formats import Naming
from applies.demo.paths import task_state
from applies.demo.shapes import Prepared
from applies.demo.writer import Batch, Row
from applies.models import ApplyControlRequest, ApplyLog, Task
from applies.states import TERMINAL_TASK_STATES, ApplyState, TaskState
from applies.vocabulary import ControlOperation, Engine, LogEvent, LogLevel, LogSource
from applies.vocabulary import RequestStatus as Status

A = ApplyState
T = TaskState
Request = tuple[ControlOperation, Status, int, int | None, str | None]
_REQUESTED = {
    ControlOperation.START: LogEvent.START_REQUESTED,
    ControlOperation.STOP: LogEvent.STOP_REQUESTED,
}


class ChildRows:
    """Draws from the shared seeded RNG; assigns task, log and request ids in insert order."""

    def __init__(self, rng: random.Random, naming: Naming) -> None:
        self.rng, self.naming = rng, naming
        self.next_task = self.next_log = self.next_request = 1

    def add(self, batch: Batch, a: Prepared) -> None:
        self._task_rows(a, batch[Task])
        if a.spec.detail:
            self._log_rows(a, batch[ApplyLog])
            self._request_rows(a, batch[ApplyControlRequest], batch[ApplyLog])

    def _task_rows(self, a: Prepared, rows: list[Row]) -> None:
        spec, db, times = a.spec, a.spec.target.database, a.times
        deployed = spec.engine == Engine.PLANETSCALE and A.RUNNING in a.path
        created = a.clock.epoch - spec.created_ago
        for position, index in enumerate(a.changes):
            change, state = db.changes[index], task_state(spec.state, position)
            instant = a.instant or change.action != ALTER
            copied, total, percent, eta = self._progress(state, instant=instant)
            started = None if state in NOT_STARTED else times.started
            done = state in TERMINAL_TASK_STATES
            completed = (times.completed or times.updated) if done else None
            error = a.error if state in (T.FAILED, T.FAILED_RETRYABLE) else None
            migration = self.naming.uuid().replace("-", "_") if deployed else None
            task_id, self.next_task = self.next_task, self.next_task + 1
            rows.append((
                task_id, self.naming.identifier("task", created, task_id), a.id, a.id, a.id,
                db.name, db.database_type, db.name, change.table, change.ddl, change.action,
                spec.engine, db.repository, a.pull_request, spec.target.environment, state, error,
                a.options_json, spec.attempt, copied, total, percent, eta, int(instant),
                int(state == T.WAITING_FOR_CUTOVER), migration, started, completed,
                times.created, times.updated,
            ))  # fmt: skip

    def _progress(self, state: T, *, instant: bool) -> tuple[int, int, int, int | None]:
        """rows_copied, rows_total, progress_percent, eta_seconds."""
        if instant:  # instant DDL, CREATE and DROP copy no rows
            return 0, 0, 100 if state in COPY_DONE else 0, None
        total = int(10 ** self.rng.uniform(3, 8.7))
        if state in COPY_DONE:
            return total, total, 100, None
        if state in NOT_STARTED:
            return 0, total, 0, None
        copied = int(total * self.rng.uniform(0.02, 0.97))
        eta = (total - copied) // self.rng.randint(2_000, 60_000) if state == T.RUNNING else None
        return copied, total, copied * 100 // total, eta

    def _log_rows(self, a: Prepared, rows: list[Row]) -> None:
        for step in range(1, len(a.path)):
            old, new = a.path[step - 1], a.path[step]
            level = LogLevel.INFO
            if new in (A.FAILED, A.FAILED_RETRYABLE):
                level = LogLevel.ERROR
            elif new in (A.PAUSED, A.STOPPED, A.CANCELLED):
                level = LogLevel.WARN
            message = f"State changed from {old} to {new}"
            rows.append(
                self._log(a, level, LogEvent.STATE_TRANSITION, message, a.path_agos[step], old, new)
            )

    def _log(
        self,
        a: Prepared,
        level: LogLevel,
        event: LogEvent,
        message: str,
        ago: int,
        old: str | None = None,
        new: str | None = None,
    ) -> Row:
        log_id, self.next_log = self.next_log, self.next_log + 1
        at = a.clock.at(ago)
        return (log_id, a.id, None, level, event, LogSource.SCHEMABOT, message, old, new, None, at)

    def _request_rows(self, a: Prepared, requests: list[Row], logs: list[Row]) -> None:
        at = a.clock.at
        for operation, status, created, completed, error in self._requests(a):
            who = self.rng.choice(PEOPLE)
            updated = created if completed is None else completed
            requests.append((
                self.next_request, a.id, operation, status, who, error, "{}", at(completed),
                at(created), at(updated),
            ))  # fmt: skip
            self.next_request += 1
            message = f"{operation} requested by {who}"
            logs.append(self._log(a, LogLevel.INFO, _REQUESTED[operation], message, created))

    def _requests(self, a: Prepared) -> list[Request]:
        """Control requests as (operation, status, created ago, completed ago, error)."""
        spec, rng = a.spec, self.rng
        start, stop = ControlOperation.START, ControlOperation.STOP
        requests: list[Request] = []
        if spec.state in (A.STOPPED, A.CANCELLED):
            asked = spec.updated_ago + rng.randint(5, 120)
            requests.append((stop, Status.COMPLETED, asked, spec.updated_ago, None))
        if spec.kind is Kind.START_REQUESTED:
            requests.append((start, Status.PENDING, rng.randint(20, 90), None, None))
        elif spec.state == A.STOPPED and spec.kind is Kind.HISTORY and rng.random() < 0.2:
            t = spec.target
            error = (
                "start refused: another active apply exists for "
                f"{t.database.name}/{t.database.database_type}/{t.environment}"
            )
            ago = max(1, spec.updated_ago - rng.randint(MINUTE, HOUR))
            requests.append((start, Status.FAILED, ago, ago, error))
        elif a.options.get("defer_deploy") and A.RUNNING in a.path:
            deployed = a.path_agos[a.path.index(A.RUNNING)]
            requests.append((start, Status.COMPLETED, deployed + 30, deployed, None))
        return requests
