"""The PlanetScale client against the documented API: endpoints, bodies, retries, secrecy.

Every answer here has the shape PlanetScale's API reference documents (``planetscale_fakes``);
the client is checked for the exact method, path and body of each call it makes.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from pytest_django import Settings

from applies.engines.base import (
    EngineAccessDenied,
    EngineConflict,
    EngineError,
    EngineNotFound,
    EngineRejected,
    EngineUnavailable,
)
from applies.engines.planetscale.config import PlanetScaleConfig
from applies.engines.planetscale.transport import APPLY_HEADER, Transport
from tests.helpers import free_port
from tests.planetscale_fakes import (
    DATABASE,
    TOKEN,
    FakeAPI,
    Recorder,
    branch_body,
    client,
    config,
    deploy_request_body,
    password_body,
    schema_body,
)


def test_branches_are_read_and_created_from_main() -> None:
    api = FakeAPI()
    api.route("GET", "branches/feature", branch_body("feature", ready=False))
    api.route("POST", "branches", branch_body("feature", ready=False))
    ps = client(api)
    assert ps.get_branch("feature").ready is False
    created = ps.create_branch("feature")
    assert created.name == "feature" and created.parent_branch == "main"
    (post,) = api.calls("POST", "branches")
    assert api.body(post) == {"name": "feature", "parent_branch": "main"}


def test_a_branch_password_is_admin_and_short_lived_and_deleted_by_id() -> None:
    api = FakeAPI()
    api.route("POST", "branches/feature/passwords", password_body())
    api.route("DELETE", "branches/feature/passwords/pw123", httpx.Response(204))
    ps = client(api)
    password = ps.create_password("feature", "ternadmin-1", 600)
    assert (password.username, password.access_host_url) == ("u123", "aws.connect.psdb.cloud")
    assert "pscale_pw_secret" not in repr(password)
    ps.delete_password("feature", password.id)
    (post,) = api.calls("POST", "branches/feature/passwords")
    assert api.body(post) == {"name": "ternadmin-1", "role": "admin", "ttl": 600}
    assert len(api.calls("DELETE", "branches/feature/passwords/pw123")) == 1


def test_schema_is_read_per_keyspace_and_vschema_read_and_patched() -> None:
    api = FakeAPI()
    api.route("GET", "branches/feature/schema", schema_body(("t", "CREATE TABLE t (id int)")))
    api.route("GET", "branches/feature/keyspaces", {"data": [{"name": "shop"}, {"name": "ks2"}]})
    api.route("GET", "branches/feature/keyspaces/shop/vschema", {"raw": '{"sharded":false}'})
    api.route("PATCH", "branches/feature/keyspaces/shop/vschema", {"raw": "{}"})
    ps = client(api)
    tables = ps.branch_schema("feature", "shop")
    assert [(t.name, t.raw) for t in tables] == [("t", "CREATE TABLE t (id int)")]
    (get,) = api.calls("GET", "branches/feature/schema")
    assert get.url.params["keyspace"] == "shop"
    assert ps.keyspaces("feature") == ["shop", "ks2"]
    assert ps.vschema("feature", "shop") == '{"sharded":false}'
    ps.update_vschema("feature", "shop", "{}")
    (patch,) = api.calls("PATCH", "branches/feature/keyspaces/shop/vschema")
    assert api.body(patch) == {"vschema": "{}"}


def test_deploy_requests_are_listed_open_for_the_branch_and_created_with_options() -> None:
    api = FakeAPI()
    api.route(
        "GET",
        "deploy-requests",
        {"data": [deploy_request_body(3, "ready"), deploy_request_body(4, "ready", branch="x")]},
    )
    api.route("POST", "deploy-requests", deploy_request_body(5, "pending"))
    ps = client(api)
    assert [dr.number for dr in ps.open_deploy_requests("feature")] == [3]
    (listing,) = api.calls("GET", "deploy-requests")
    assert dict(listing.url.params) == {"state": "open", "branch": "feature", "into_branch": "main"}
    assert (
        ps.create_deploy_request("feature", auto_cutover=False, auto_delete_branch=True).state
        == "pending"
    )
    (post,) = api.calls("POST", "deploy-requests")
    assert api.body(post) == {
        "branch": "feature",
        "into_branch": "main",
        "auto_cutover": False,
        "auto_delete_branch": True,
    }


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("deploy", "deploy", {"instant_ddl": True}),
        ("apply_deploy", "apply-deploy", None),
        ("cancel", "cancel", None),
        ("skip_revert", "skip-revert", None),
    ],
)
def test_deploy_request_actions_post_to_their_endpoint(
    method: str, action: str, body: object
) -> None:
    api = FakeAPI()
    api.route("POST", f"deploy-requests/7/{action}", deploy_request_body(7, "queued"))
    ps = client(api)
    call = getattr(ps, method)
    dr = call(7, instant=True) if method == "deploy" else call(7)
    assert dr.number == 7
    (post,) = api.calls("POST", f"deploy-requests/7/{action}")
    assert api.body(post) == body


def test_a_deploy_request_reads_its_deployment() -> None:
    api = FakeAPI()
    body = deploy_request_body(9, "complete_pending_revert", deployed_at="2026-01-01T00:00:00Z")
    body["deployment"]["instant_ddl_eligible"] = True
    api.route("GET", "deploy-requests/9", body)
    dr = client(api).get_deploy_request(9)
    assert (dr.state, dr.deployed, dr.instant_ddl_eligible, dr.open) == (
        "complete_pending_revert",
        True,
        True,
        True,
    )
    assert dr.html_url == "https://app/dr/9"


def test_every_call_carries_the_token_and_the_apply() -> None:
    api = FakeAPI()
    api.route("GET", "branches/feature", branch_body("feature"))
    client(api).get_branch("feature")
    (request,) = api.requests
    assert request.headers["Authorization"] == f"tid:{TOKEN}"
    assert request.headers[APPLY_HEADER] == "apply-unit"
    assert request.url.path == f"/v1/organizations/acme/databases/{DATABASE}/branches/feature"


def test_names_are_one_path_segment_each() -> None:
    api = FakeAPI()
    with pytest.raises(EngineNotFound):
        client(api).get_branch("../../evil")
    assert api.requests[-1].url.raw_path.endswith(b"/branches/..%2F..%2Fevil")


def test_a_5xx_is_retried_with_exponential_backoff_until_it_succeeds() -> None:
    api = FakeAPI()
    api.route("GET", "branches/feature", 503, 503, branch_body("feature"))
    sleep = Recorder()
    assert client(api, sleep).get_branch("feature").ready
    assert len(api.requests) == 3
    # Exponential with jitter: the second wait is in [0.1, 0.2], about twice the first.
    assert 0.05 <= sleep.delays[0] <= 0.1 and 0.1 <= sleep.delays[1] <= 0.2


def test_a_429_waits_as_long_as_retry_after_says() -> None:
    api = FakeAPI()
    limited = httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "slow down"})
    api.route("GET", "branches/feature", limited, branch_body("feature"))
    sleep = Recorder()
    client(api, sleep).get_branch("feature")
    assert sleep.delays == [7.0]


def test_a_persistent_5xx_is_unavailable_after_the_retries() -> None:
    api = FakeAPI()
    api.route("GET", "branches/feature", httpx.Response(500, json={"message": "db is down"}))
    sleep = Recorder()
    with pytest.raises(EngineUnavailable, match=r"500 db is down \(4 attempt\(s\)\)"):
        client(api, sleep).get_branch("feature")
    assert len(api.requests) == 4 and len(sleep.delays) == 3


def test_creating_posts_are_never_retried_blindly() -> None:
    api = FakeAPI()
    api.route("POST", "deploy-requests", 503)
    with pytest.raises(EngineUnavailable):
        client(api).create_deploy_request("feature", auto_cutover=True, auto_delete_branch=True)
    assert len(api.requests) == 1


def test_an_unreachable_api_is_unavailable() -> None:
    sleep = Recorder()
    transport = Transport(
        config(api_url=f"http://127.0.0.1:{free_port()}", max_retries=2), sleep=sleep
    )
    with pytest.raises(EngineUnavailable, match="ConnectError"):
        transport.call("GET", f"{DATABASE}/branches/x", "a")
    assert len(sleep.delays) == 2


def test_4xx_are_rejections_with_the_apis_message_and_not_retried() -> None:
    api = FakeAPI()
    api.route("GET", "branches/a", httpx.Response(422, json={"message": "Name is not valid."}))
    api.route("GET", "branches/b", httpx.Response(409, json={"message": "busy"}))
    sleep = Recorder()
    ps = client(api, sleep)
    with pytest.raises(EngineRejected, match="Name is not valid.") as caught:
        ps.get_branch("a")
    assert caught.value.status == 422 and not isinstance(caught.value, EngineUnavailable)
    with pytest.raises(EngineConflict, match="409 busy"):
        ps.get_branch("b")
    with pytest.raises(EngineNotFound) as missing:
        ps.get_deploy_request(404)
    assert missing.value.status == 404
    assert sleep.delays == []


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_ternadmins_access_not_a_rejection_of_the_apply(status: int) -> None:
    api = FakeAPI(unrouted=status)
    sleep = Recorder()
    with pytest.raises(EngineAccessDenied, match=str(status)) as caught:
        client(api, sleep).get_branch("a")
    assert not isinstance(caught.value, EngineRejected)
    assert sleep.delays == [] and len(api.requests) == 1  # the drive retries, not the call


def test_an_unexpected_answer_is_an_engine_error() -> None:
    api = FakeAPI()
    api.route("GET", "deploy-requests/1", {"number": "one"})
    with pytest.raises(EngineError, match="number/state"):
        client(api).get_deploy_request(1)


def test_the_token_never_appears_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = FakeAPI()  # an API that echoes the credentials back in its error message
    api.route("GET", "branches/x", httpx.Response(503, json={"message": f"bad auth {TOKEN}"}))
    with pytest.raises(EngineError) as caught:
        client(api).get_branch("x")
    assert TOKEN not in str(caught.value) and "[redacted]" in str(caught.value)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(config())


def test_the_demo_points_at_the_local_emulator(settings: Settings) -> None:
    configured = PlanetScaleConfig.from_settings()
    assert configured.api_url == f"http://127.0.0.1:{settings.LOCALSCALE_PORT}"
    assert configured.organization == "ternadmin-demo"
    assert configured.password_ttl_seconds == settings.PLANETSCALE_PASSWORD_TTL_SECONDS
