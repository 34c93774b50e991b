"""A PlanetScale apply's persisted resume state: ``apply_operations.engine_resume_metadata``.

The JSON SchemaBot's engine writes (upstream pkg/engine/planetscale/planetscale.go,
``psMetadata``): ``branch_name``, ``deploy_request_id`` (the number; 0 for none),
``deploy_request_url``, ``deployed_at``, ``is_instant``, ``deferred_deploy``. Keys a newer
SchemaBot adds are kept as they are, so reading and writing it back never drops them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from applies.engines.base import CorruptResumeState
from applies.engines.planetscale.types import DeployRequest

_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, written when no deploy happened yet
# Deploy requests of this apply that ended in error and were replaced by a new one. SchemaBot's
# engine decodes the metadata into a struct, so it ignores a key it does not know.
ERRORED_KEY = "ternadmin_errored_deploy_requests"


@dataclass(frozen=True)
class PlanetScaleMetadata:
    """``apply_operations.engine_resume_metadata`` of a PlanetScale apply (SchemaBot's psMetadata).

    ``extra`` keeps keys a newer SchemaBot writes (``revert_expires_at``, …) so that reading and
    writing the metadata back never drops them.
    """

    branch_name: str
    deploy_request_id: int | None = None
    deploy_request_url: str = ""
    deployed_at: str | None = None
    is_instant: bool = False
    deferred_deploy: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON SchemaBot reads: a DR number of 0 means none; the URL and the deploy time
        are left out when empty; both flags are always written (a missing one reads false)."""
        value: dict[str, Any] = dict(self.extra)
        value.update(
            branch_name=self.branch_name,
            deploy_request_id=self.deploy_request_id or 0,
            is_instant=self.is_instant,
            deferred_deploy=self.deferred_deploy,
        )
        if self.deploy_request_url:
            value["deploy_request_url"] = self.deploy_request_url
        if self.deployed_at:
            value["deployed_at"] = self.deployed_at
        return value

    @classmethod
    def from_json(cls, value: object) -> PlanetScaleMetadata | None:
        """Parse stored metadata. NULL, '' and {} mean "none"; anything malformed raises
        ``CorruptResumeState`` rather than guessing (a wrong guess could fork a second deploy)."""
        data = _metadata_object(value)
        if not data:
            return None
        known = {
            "branch_name",
            "deploy_request_id",
            "deploy_request_url",
            "deployed_at",
            "is_instant",
            "deferred_deploy",
        }
        return cls(
            branch_name=_branch_name(data),
            deploy_request_id=_deploy_request_id(data),
            deploy_request_url=_optional_str(data, "deploy_request_url") or "",
            deployed_at=_deployed_at(data),
            is_instant=_flag(data, "is_instant"),
            deferred_deploy=_flag(data, "deferred_deploy"),
            extra={key: item for key, item in data.items() if key not in known},
        )

    def with_deploy_request(self, dr: DeployRequest) -> PlanetScaleMetadata:
        """This metadata pointing at ``dr`` (number, URL and deploy time), and instant once
        PlanetScale says the request is instant-DDL eligible (upstream refreshes ``is_instant``
        from the request the same way, and never back)."""
        return replace(
            self,
            deploy_request_id=dr.number,
            deploy_request_url=dr.html_url or self.deploy_request_url,
            deployed_at=dr.deployed_at or self.deployed_at,
            is_instant=self.is_instant or dr.instant_ddl_eligible,
        )

    def without_deploy_request(self, *, errored: bool = False) -> PlanetScaleMetadata:
        """The branch only: the deploy request is forgotten (``errored`` counts it as one
        that ended in error, so that a plan PlanetScale keeps refusing ends the apply)."""
        extra = dict(self.extra)
        if errored and self.deploy_request_id is not None:
            extra[ERRORED_KEY] = [*self.errored_deploy_requests, self.deploy_request_id]
        return replace(
            self,
            deploy_request_id=None,
            deploy_request_url="",
            deployed_at=None,
            deferred_deploy=False,
            extra=extra,
        )

    @property
    def errored_deploy_requests(self) -> list[int]:
        numbers = self.extra.get(ERRORED_KEY)
        return [n for n in numbers if isinstance(n, int)] if isinstance(numbers, list) else []


def _metadata_object(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, bytes | str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError:
            raise CorruptResumeState("resume metadata is not valid JSON") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CorruptResumeState(f"resume metadata is a {type(value).__name__}, not an object")
    return value


def _branch_name(data: Mapping[str, Any]) -> str:
    name = data.get("branch_name")
    if not isinstance(name, str) or not name.strip():
        raise CorruptResumeState(f"resume metadata has no usable branch_name: {name!r}")
    return name


def _deploy_request_id(data: Mapping[str, Any]) -> int | None:
    number = data.get("deploy_request_id")
    if number is None:
        return None
    # bool is an int in Python; a true/false here is corruption, not deploy request 1/0.
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise CorruptResumeState(f"resume metadata deploy_request_id is not a number: {number!r}")
    return number or None


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    item = data.get(key)
    if item is not None and not isinstance(item, str):
        raise CorruptResumeState(f"resume metadata {key} is not a string: {item!r}")
    return item


def _deployed_at(data: Mapping[str, Any]) -> str | None:
    item = _optional_str(data, "deployed_at")
    return None if not item or item == _ZERO_TIME else item


def _flag(data: Mapping[str, Any], key: str) -> bool:
    item = data.get(key, False)
    if not isinstance(item, bool):
        raise CorruptResumeState(f"resume metadata {key} is not a boolean: {item!r}")
    return item
