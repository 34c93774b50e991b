"""Crash injection: ``TERNADMIN_CRASH_AT=<step>:<before|after>`` kills the driving process there.

For the crash matrix and the reliability harness only. SIGKILL, not an exception: nothing gets
to clean up, exactly like a driver whose host died, including between an engine call and the
persisting of its result. With ``TERNADMIN_CRASH_ONCE=<file>`` only the first process to reach
the point dies (it creates the file; whoever finds it there goes on): a scheduler's workers all
share one environment, and the worker that takes the step over must not die there too.

Steps: ``persist_resume_state``, ``create_branch``, ``apply_branch_changes``,
``branch_statement`` (each DDL statement on the branch: ``:after`` of the first one is between
two statements), ``validate_branch``, ``create_deploy_request``, ``validate_deploy_request``,
``deploy``, ``cutover``.
"""

from __future__ import annotations

import os
import signal
from typing import Literal

ENV = "TERNADMIN_CRASH_AT"
ONCE_ENV = "TERNADMIN_CRASH_ONCE"


def crash_point(step: str, when: Literal["before", "after"]) -> None:
    if os.environ.get(ENV, "") != f"{step}:{when}":
        return
    once = os.environ.get(ONCE_ENV, "")
    if once:
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return  # someone died here already
    os.kill(os.getpid(), signal.SIGKILL)
