"""An apply's persisted engine resume state, and what the engine says about it now.

The persisted half is ``apply_operations.engine_resume_metadata`` (upstream psMetadata): for
PlanetScale ``branch_name``, ``deploy_request_id`` and ``deploy_request_url``. It is read
leniently here (the console must show even a corrupt value, and say so); the recovery driver
reads it strictly.

The live half asks PlanetScale's API (or the LocalScale emulator) with a short timeout and no
retries. Any failure becomes "engine unreachable: <reason>"; it never fails the page.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings

from applies import states
from applies.models import Apply, ApplyOperation
from applies.redact import redact, redact_json
from applies.vocabulary import Engine

logger = logging.getLogger(__name__)
_KNOWN_KEYS = ("branch_name", "deploy_request_id", "deploy_request_url")


@dataclass(frozen=True)
class ResumeState:
    operation_id: int
    deployment: str
    context: str  # engine_resume_context: migration context or the apply identifier
    branch_name: str = ""
    deploy_request_id: int | None = None
    deploy_request_url: str = ""
    other: dict[str, Any] = field(default_factory=dict)  # further keys, secrets masked
    problem: str = ""  # why the stored value could not be read


@dataclass(frozen=True)
class LiveEngineState:
    """What the engine answered (or why it could not), for one resume state."""

    operation_id: int
    reachable: bool
    summary: str  # one sentence for people
    deploy_request_state: str = ""
    maps_to_state: str = ""  # the apply state the deploy request's state means
    branch_ready: bool | None = None
    html_url: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "reachable": self.reachable,
            "summary": self.summary,
            "deploy_request_state": self.deploy_request_state or None,
            "maps_to_state": self.maps_to_state or None,
            "branch_ready": self.branch_ready,
            "deploy_request_html_url": redact(self.html_url) or None,
        }


@dataclass(frozen=True)
class EngineResume:
    """What asking the engine about an apply needs: the row and each operation's resume state."""

    apply: Apply
    resume: list[ResumeState]


def engine_resume(apply_id: int) -> EngineResume | None:
    """The apply and its operations' persisted resume state, or ``None``: two reads by key,
    not the apply's whole story (``selectors.detail``)."""
    apply = Apply.objects.filter(pk=apply_id).first()
    if apply is None:
        return None
    operations = (
        ApplyOperation.objects.filter(apply_id=apply_id)
        .only("id", "deployment", "engine_resume_context", "engine_resume_metadata")
        .order_by("created_at", "id")
    )
    return EngineResume(apply, [resume_state(operation) for operation in operations])


def resume_state(operation: ApplyOperation) -> ResumeState:
    base = ResumeState(operation.pk, operation.deployment, operation.engine_resume_context or "")
    raw = operation.engine_resume_metadata
    try:
        data = json.loads(raw) if isinstance(raw, str | bytes) and raw else raw
    except ValueError:
        return replace(base, problem="stored metadata is not valid JSON")
    if data in (None, "", {}):
        return base
    if not isinstance(data, dict):
        return replace(base, problem=f"stored metadata is a {type(data).__name__}, not an object")
    number = data.get("deploy_request_id")
    valid_number = isinstance(number, int) and not isinstance(number, bool) and number > 0
    return replace(
        base,
        branch_name=str(data.get("branch_name") or ""),
        deploy_request_id=number if valid_number else None,
        deploy_request_url=str(data.get("deploy_request_url") or ""),
        other=redact_json({k: v for k, v in data.items() if k not in _KNOWN_KEYS}),
        problem="" if valid_number or number in (None, 0) else f"deploy_request_id {number!r}",
    )


def live_state(apply: Apply, resume: ResumeState) -> LiveEngineState:
    """Ask the engine about ``resume`` now; never raises."""
    op = resume.operation_id
    if apply.engine != Engine.PLANETSCALE:
        return LiveEngineState(
            op,
            False,
            f"ternadmin does not query {apply.engine or 'this engine'}: its driver "
            "resumes from its own checkpoint.",
        )
    if not resume.branch_name:
        return LiveEngineState(op, False, "Nothing persisted yet: no branch to ask about.")
    from applies.engines.base import EngineNotFound

    try:
        return _ask_planetscale(apply, resume)
    except EngineNotFound as exc:
        return LiveEngineState(op, True, f"The engine does not know it: {redact(str(exc))}")
    except Exception as exc:  # any failure, including missing settings, is shown, not raised
        logger.info("engine probe of apply %s failed: %s", apply.pk, exc)
        return LiveEngineState(
            op, False, f"engine unreachable: {redact(str(exc)) or type(exc).__name__}"
        )


def _ask_planetscale(apply: Apply, resume: ResumeState) -> LiveEngineState:
    from applies.engines.planetscale.client import PlanetScaleClient
    from applies.engines.planetscale.config import PlanetScaleConfig
    from applies.engines.planetscale.transport import Transport
    from applies.engines.planetscale.types import engine_state

    config = replace(
        PlanetScaleConfig.from_settings(),
        timeout_seconds=float(settings.TERNADMIN_ENGINE_PROBE_SECONDS),
        max_retries=0,
    )
    transport = Transport(config)
    try:
        client = PlanetScaleClient(transport, apply.database_name, apply.apply_identifier)
        if resume.deploy_request_id:
            dr = client.get_deploy_request(resume.deploy_request_id)
            deferred = bool(resume.other.get("deferred_deploy"))
            maps_to = engine_state(dr.state, deferred)
            label = states.apply_state(maps_to).label
            return LiveEngineState(
                resume.operation_id,
                True,
                f"Deploy request #{dr.number} is {dr.state} ({label.lower()}).",
                deploy_request_state=dr.state,
                maps_to_state=maps_to,
                html_url=dr.html_url,
            )
        branch = client.get_branch(resume.branch_name)
        ready = "ready" if branch.ready else "not ready yet"
        return LiveEngineState(
            resume.operation_id,
            True,
            f"Branch {branch.name} exists and is {ready}; no deploy request was persisted.",
            branch_ready=branch.ready,
        )
    finally:
        transport.close()
