"""Crash injection: ``TERNADMIN_CRASH_AT=<step>:<before|after>`` kills the driving process there.

For the crash matrix and the reliability harness only. SIGKILL, not an exception: nothing gets
to clean up, exactly like a driver whose host died, including between an engine call and the
persisting of its result.

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


def crash_point(step: str, when: Literal["before", "after"]) -> None:
    if os.environ.get(ENV, "") == f"{step}:{when}":
        os.kill(os.getpid(), signal.SIGKILL)
