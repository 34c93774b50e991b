"""The engine protocol's shared types: state mapping, resume metadata, names, settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from applies.engines import Drivers, driven_engines, drives_engine, not_driven_reason
from applies.engines.base import CorruptResumeState, EngineConflict, EngineNotFound, EngineRejected
from applies.engines.config import env_engines, env_float, env_http_url
from applies.engines.planetscale.metadata import PlanetScaleMetadata
from applies.engines.planetscale.transport import Transport
from applies.engines.planetscale.types import (
    DeployRequest,
    DeployRequestState,
    deterministic_branch_name,
    engine_state,
    is_open,
)
from applies.recovery.planetscale import PlanetScaleDriver
from applies.states import APPLY_STATES, ApplyState

DR = DeployRequestState


@pytest.mark.parametrize(
    ("dr_state", "expected"),
    [
        (DR.PENDING, ApplyState.PENDING),
        (DR.READY, ApplyState.PENDING),
        (DR.NO_CHANGES, ApplyState.COMPLETED),
        (DR.COMPLETE, ApplyState.COMPLETED),
        (DR.COMPLETE_PENDING_REVERT, ApplyState.REVERT_WINDOW),
        (DR.QUEUED, ApplyState.RUNNING),
        (DR.SUBMITTING, ApplyState.RUNNING),
        (DR.IN_PROGRESS, ApplyState.RUNNING),
        (DR.IN_PROGRESS_VSCHEMA, ApplyState.RUNNING),
        (DR.PENDING_CUTOVER, ApplyState.WAITING_FOR_CUTOVER),
        (DR.IN_PROGRESS_CUTOVER, ApplyState.CUTTING_OVER),
        (DR.COMPLETE_ERROR, ApplyState.FAILED),
        (DR.ERROR, ApplyState.FAILED),
        (DR.FAILED, ApplyState.FAILED),
        (DR.COMPLETE_REVERT_ERROR, ApplyState.FAILED),
        (DR.IN_PROGRESS_CANCEL, ApplyState.CANCELLED),
        (DR.COMPLETE_CANCEL, ApplyState.CANCELLED),
        (DR.CANCELLED, ApplyState.CANCELLED),
        (DR.IN_PROGRESS_REVERT, ApplyState.REVERTING),
        (DR.IN_PROGRESS_REVERT_VSCHEMA, ApplyState.REVERTING),
        (DR.COMPLETE_REVERT, ApplyState.REVERTED),
    ],
)
def test_every_deploy_request_state_maps_to_an_apply_state(dr_state: str, expected: str) -> None:
    assert engine_state(dr_state, deferred_deploy=False) == expected


def test_the_mapping_covers_every_state_and_lands_on_known_apply_states() -> None:
    for dr_state in DR:
        assert engine_state(dr_state, deferred_deploy=False) in APPLY_STATES


def test_a_ready_deferred_deploy_waits_for_deploy_and_unknown_states_read_as_running() -> None:
    assert engine_state(DR.READY, deferred_deploy=True) == ApplyState.WAITING_FOR_DEPLOY
    assert engine_state(DR.PENDING, deferred_deploy=True) == ApplyState.PENDING
    assert engine_state("something_new", deferred_deploy=False) == ApplyState.RUNNING


def test_open_means_not_closed_cancelled_or_errored() -> None:
    assert is_open(DR.PENDING) and is_open(DR.COMPLETE_PENDING_REVERT)
    assert not is_open(DR.ERROR) and not is_open(DR.COMPLETE_CANCEL)
    assert not is_open(DR.COMPLETE)


# --- Resume metadata --------------------------------------------------------------------------


def test_metadata_round_trips_through_json_text() -> None:
    metadata = PlanetScaleMetadata(
        branch_name="schemabot-shop-1234abcd",
        deploy_request_id=7,
        deploy_request_url="https://app.planetscale.com/org/shop/deploy-requests/7",
        deployed_at="2026-07-01T11:25:00Z",
        is_instant=True,
        deferred_deploy=False,
    )
    stored = json.dumps(metadata.to_json())
    assert PlanetScaleMetadata.from_json(stored) == metadata
    assert PlanetScaleMetadata.from_json(json.loads(stored)) == metadata


def test_metadata_is_written_the_way_schemabot_writes_it() -> None:
    written = PlanetScaleMetadata(branch_name="schemabot-shop-1234abcd").to_json()
    # No DR yet is a 0 (Go's uint64); omitempty fields are left out.
    assert written == {
        "branch_name": "schemabot-shop-1234abcd",
        "deploy_request_id": 0,
        "is_instant": False,
        "deferred_deploy": False,
    }
    assert PlanetScaleMetadata.from_json(written) == PlanetScaleMetadata("schemabot-shop-1234abcd")


def test_keys_a_newer_schemabot_adds_survive_a_round_trip() -> None:
    stored = {
        "branch_name": "b",
        "deploy_request_id": 3,
        "revert_expires_at": "2026-07-01T12:00:00Z",
        "existing_migration_contexts": ["a:1"],
    }
    metadata = PlanetScaleMetadata.from_json(stored)
    assert metadata is not None
    assert metadata.to_json()["revert_expires_at"] == "2026-07-01T12:00:00Z"
    assert metadata.to_json()["existing_migration_contexts"] == ["a:1"]


def test_go_zero_values_mean_nothing_happened_yet() -> None:
    metadata = PlanetScaleMetadata.from_json(
        '{"branch_name": "b", "deploy_request_id": 0, "deployed_at": "0001-01-01T00:00:00Z"}'
    )
    assert metadata == PlanetScaleMetadata(branch_name="b")


@pytest.mark.parametrize("empty", [None, "", "null", "{}", {}, b""])
def test_no_metadata_is_none(empty: object) -> None:
    assert PlanetScaleMetadata.from_json(empty) is None


@pytest.mark.parametrize(
    ("corrupt", "complaint"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "list, not an object"),
        (42, "int, not an object"),
        ({"deploy_request_id": 5}, "branch_name"),
        ({"branch_name": ""}, "branch_name"),
        ({"branch_name": 12}, "branch_name"),
        ({"branch_name": "b", "deploy_request_id": "7"}, "deploy_request_id"),
        ({"branch_name": "b", "deploy_request_id": True}, "deploy_request_id"),
        ({"branch_name": "b", "deploy_request_id": -1}, "deploy_request_id"),
        ({"branch_name": "b", "deploy_request_id": 1.5}, "deploy_request_id"),
        ({"branch_name": "b", "deploy_request_url": 7}, "deploy_request_url"),
        ({"branch_name": "b", "deployed_at": 1234}, "deployed_at"),
        ({"branch_name": "b", "is_instant": "yes"}, "is_instant"),
        ({"branch_name": "b", "deferred_deploy": 1}, "deferred_deploy"),
    ],
)
def test_corrupt_metadata_raises_a_clear_error(corrupt: object, complaint: str) -> None:
    with pytest.raises(CorruptResumeState, match=complaint):
        PlanetScaleMetadata.from_json(corrupt)


def test_metadata_follows_a_deploy_request() -> None:
    dr = DeployRequest.from_api(_api_deploy_request(number=9, deployed_at="2026-07-01T11:25:00Z"))
    metadata = PlanetScaleMetadata(branch_name="b").with_deploy_request(dr)
    assert metadata.deploy_request_id == 9
    assert metadata.deploy_request_url == dr.html_url
    assert metadata.deployed_at == "2026-07-01T11:25:00Z"


def test_forgetting_an_errored_deploy_request_counts_it_and_keeps_other_keys() -> None:
    metadata = PlanetScaleMetadata(
        branch_name="b", deploy_request_id=4, deferred_deploy=True, extra={"newer": 1}
    )
    forgotten = metadata.without_deploy_request(errored=True).with_deploy_request(
        DeployRequest.from_api(_api_deploy_request(number=5))
    )
    again = PlanetScaleMetadata.from_json(
        json.dumps(forgotten.without_deploy_request(errored=True).to_json())
    )
    assert again is not None
    assert again.errored_deploy_requests == [4, 5]
    assert (again.deploy_request_id, again.deferred_deploy) == (None, False)
    assert again.extra["newer"] == 1
    assert metadata.without_deploy_request().errored_deploy_requests == []


# --- Names, statements, API shapes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("database", "plan", "expected"),
    [
        ("shop", "plan-0123456789abcdef", "schemabot-shop-89abcdef"),
        ("order_items_db", "p-12345678", "schemabot-order-items-db-12345678"),
        ("a_very_long_database_name_indeed", "xyz", "schemabot-a-very-long-database-xyz"),
    ],
)
def test_branch_names_are_deterministic(database: str, plan: str, expected: str) -> None:
    assert deterministic_branch_name(database, plan) == expected


def _api_deploy_request(**overrides: Any) -> dict[str, Any]:
    # The shape PlanetScale's API answers with: state is open/closed, the machine is
    # deployment_state, details under deployment.
    body: dict[str, Any] = {
        "id": "dr_42",
        "number": 42,
        "branch": "schemabot-shop-1234abcd",
        "into_branch": "main",
        "approved": True,
        "state": "open",
        "deployment_state": "ready",
        "deployment": {"state": "ready", "instant_ddl_eligible": True},
        "created_at": "2026-07-01T10:30:00Z",
        "deployed_at": None,
        "html_url": "https://app.planetscale.com/org/shop/deploy-requests/42",
    }
    body.update(overrides)
    return body


def test_deploy_requests_parse_from_planetscale_json() -> None:
    dr = DeployRequest.from_api(_api_deploy_request())
    assert (dr.number, dr.state, dr.open, dr.deployed) == (42, "ready", True, False)
    assert dr.instant_ddl_eligible and dr.html_url.endswith("/42")
    closed = DeployRequest.from_api(
        _api_deploy_request(state="closed", deployment_state="complete", deployed_at="2026-07-01")
    )
    assert (closed.open, closed.deployed, closed.engine_state) == (False, True, "completed")


def test_not_found_and_conflict_are_rejections_with_a_status() -> None:
    assert issubclass(EngineNotFound, EngineRejected)
    assert issubclass(EngineConflict, EngineRejected)
    assert EngineConflict("taken", status=409).status == 409


# --- Settings and the factory -----------------------------------------------------------------


def test_engine_settings_fail_loudly_on_bad_values() -> None:
    assert env_engines({"E": " PlanetScale, planetscale"}, "E", []) == ["planetscale"]
    assert env_engines({"E": ""}, "E", ["planetscale"]) == []
    with pytest.raises(ImproperlyConfigured, match="E: ternadmin has no driver for spirit"):
        env_engines({"E": "planetscale, Spirit"}, "E", [])
    with pytest.raises(ImproperlyConfigured, match="unknown engine.*vitesse"):
        env_engines({"E": "planetscale,vitesse"}, "E", [])
    assert env_float({"F": "12.5"}, "F", 1.0) == 12.5
    assert env_float({}, "F", 1.0) == 1.0
    for bad in ("fast", "0", "-1", "nan"):
        with pytest.raises(ImproperlyConfigured, match="F="):
            env_float({"F": bad}, "F", 1.0)
    assert env_http_url({"U": "http://127.0.0.1:8766/"}, "U", "") == "http://127.0.0.1:8766"
    with pytest.raises(ImproperlyConfigured, match="not an http"):
        env_http_url({"U": "ftp://example.com"}, "U", "")


def closed(transport: Transport) -> bool:
    return transport._http.is_closed


def test_the_seam_says_which_engines_are_driven_and_by_which_driver(settings: Settings) -> None:
    settings.TERNADMIN_ENGINES = ["planetscale"]
    assert driven_engines() == ("planetscale",)
    assert drives_engine("PlanetScale") and not drives_engine("spirit")
    assert not_driven_reason("planetscale") == ""
    assert not_driven_reason("spirit") == "ternadmin does not drive spirit"
    with Drivers() as drivers:
        assert drivers.driver_for("spirit", 7) is None
        first, second = drivers.driver_for("planetscale", 7), drivers.driver_for("planetscale", 8)
        assert isinstance(first, PlanetScaleDriver) and first.apply_id == 7
        assert isinstance(second, PlanetScaleDriver) and second.apply_id == 8
        assert first.transport is second.transport  # one connection pool per runner
        first.close()
        assert not closed(first.transport)  # the factory's, not the driver's, to close
    assert closed(first.transport)
    settings.TERNADMIN_ENGINES = []
    assert not_driven_reason("planetscale") == (
        "ternadmin does not drive planetscale (not in TERNADMIN_ENGINES)"
    )
    with Drivers() as drivers:
        assert drivers.driver_for("planetscale", 7) is None


def test_a_driven_planetscale_needs_its_credentials(settings: Settings) -> None:
    settings.TERNADMIN_ENGINES = ["planetscale"]
    settings.PLANETSCALE_SERVICE_TOKEN = ""
    with (
        Drivers() as drivers,
        pytest.raises(ImproperlyConfigured, match="PLANETSCALE_SERVICE_TOKEN is not set"),
    ):
        drivers.driver_for("planetscale", 7)
