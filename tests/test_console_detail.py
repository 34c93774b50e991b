"""An apply's page: every field, lease, classification in words, children, timeline, engine."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from applies import selectors
from applies.dbclock import PreciseNow
from applies.engines.planetscale.types import DeployRequest
from applies.models import ApplyOperation, Drive, Task
from applies.roles import Role
from applies.states import ApplyState
from tests.claim_fixtures import STALE, make_apply, operation_of
from tests.console_fixtures import DRIVER_TOKEN, client_for, give_lease
from tests.factories import ApplyControlRequestFactory, ApplyLogFactory, set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
METADATA = {
    "branch_name": "schemabot-orders-1a2b3c4d",
    "deploy_request_id": 17,
    "deploy_request_url": "https://app.planetscale.com/acme/orders/deploy-requests/17",
    "deferred_deploy": False,
}


@pytest.fixture
def viewer() -> Client:
    return client_for(Role.VIEWER)


def stuck_apply() -> Any:
    apply = make_apply(A.CREATING_DEPLOY_REQUEST)
    ApplyOperation.objects.using("schemabot").filter(apply_id=apply.pk).update(
        engine_resume_metadata=METADATA, engine_resume_context=apply.apply_identifier
    )
    Task.objects.using("schemabot").filter(apply_id=apply.pk).update(
        progress_percent=37, rows_copied=370, rows_total=1000
    )
    ApplyLogFactory(apply=apply, message="State changed from validating_branch")
    ApplyControlRequestFactory(apply=apply, operation="stop", status="completed")
    # The updates above moved the operation row's heartbeat on MariaDB: its driver died with
    # the apply's (an operation claim takes a stale operation row only).
    set_heartbeat_age(operation_of(apply), STALE)
    return give_lease(apply, STALE)


def test_detail_shows_the_whole_story(viewer: Client) -> None:
    apply = stuck_apply()
    html = viewer.get(f"/applies/{apply.pk}/").content.decode()
    expected: tuple[str, ...] = (
        apply.apply_identifier,
        "Creating deploy request",
        "Stale for 2m in creating_deploy_request → the stale-active clause will claim it.",
        "host-a/1/driver-0",
        DRIVER_TOKEN[:8],
        "by the database clock",
        "schemabot-orders-1a2b3c4d",
        "#17",
        str(METADATA["deploy_request_url"]),
        "37%",
        "370 / 1000",
        "State changed from validating_branch",
        "stop",
        "completed",
        operation_of(apply).deployment,
    )
    for text in expected:
        assert text in html, text
    assert DRIVER_TOKEN not in html  # never the whole token


def test_detail_masks_secrets_in_free_text(viewer: Client) -> None:
    apply = make_apply(
        A.FAILED, error_message="dial mysql://app:hunter2@db:3306/x failed; password=s3cret"
    )
    html = viewer.get(f"/applies/{apply.pk}/").content.decode()
    assert "hunter2" not in html and "s3cret" not in html
    assert "mysql://app:•••@db" in html


def test_missing_apply_is_404(viewer: Client) -> None:
    assert viewer.get("/applies/987654/").status_code == 404


def test_engine_answer_when_the_engine_is_down(viewer: Client, settings: Any) -> None:
    settings.PLANETSCALE_API_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    apply = stuck_apply()
    response = viewer.get(f"/applies/{apply.pk}/engine")
    assert response.status_code == 200
    assert "engine unreachable:" in response.content.decode()
    assert settings.PLANETSCALE_SERVICE_TOKEN not in response.content.decode()


def test_engine_answer_maps_the_deploy_request_state(
    viewer: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from applies.engines.planetscale.client import PlanetScaleClient

    def get_deploy_request(self: object, number: int) -> DeployRequest:
        return DeployRequest.from_api(
            {"number": number, "state": "open", "deployment_state": "pending_cutover",
             "branch": METADATA["branch_name"], "html_url": "https://ps.example/dr/17"}
        )  # fmt: skip

    monkeypatch.setattr(PlanetScaleClient, "get_deploy_request", get_deploy_request)
    apply = stuck_apply()
    html = viewer.get(f"/applies/{apply.pk}/engine").content.decode()
    assert "Deploy request #17 is pending_cutover (waiting for cutover)." in html
    assert "https://ps.example/dr/17" in html


def test_engine_answer_for_an_engine_ternadmin_does_not_query() -> None:
    apply = make_apply(A.RUNNING, engine="spirit")
    detail = selectors.apply_detail(apply.pk)
    assert detail is not None
    answer = selectors.live_state(detail.apply, detail.resume[0])
    assert not answer.reachable and "does not query spirit" in answer.summary


def statements(url: str, client: Client, **headers: str) -> list[str]:
    """The SQL ``url`` sends to both databases (200 expected)."""
    with (
        CaptureQueriesContext(connections["default"]) as ours,
        CaptureQueriesContext(connections["schemabot"]) as theirs,
    ):
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.content[:300]
    return [q["sql"] for q in [*ours.captured_queries, *theirs.captured_queries]]


def test_the_engine_answer_and_the_confirm_page_read_only_what_they_show() -> None:
    """Not the apply's whole story: no timeline (up to 501 rows), tasks, plan or drives."""
    from tests.test_api import bearer, token_for

    apply = make_apply(A.RUNNING, engine="spirit")  # an engine ternadmin does not query
    for _ in range(3):
        ApplyLogFactory(apply=apply)
    auth = bearer(token_for(Role.VIEWER, "bot"))
    pages = {
        f"/applies/{apply.pk}/engine": (client_for(Role.VIEWER), {}),
        f"/api/v1/applies/{apply.pk}/engine": (Client(), auth),
        f"/applies/{apply.pk}/stop": (client_for(Role.OPERATOR), {}),
    }
    for url, (client, headers) in pages.items():
        sql = " ".join(statements(url, client, **headers))
        for table in ("apply_logs", "tasks", "plans", "applies_drive"):
            assert f'"{table}"' not in sql and f"`{table}`" not in sql, (url, table)
        if url.endswith("engine"):
            assert "apply_control_requests" not in sql, url


def test_corrupt_resume_metadata_is_shown_not_raised(viewer: Client) -> None:
    apply = make_apply(A.RUNNING)
    ApplyOperation.objects.using("schemabot").filter(apply_id=apply.pk).update(
        engine_resume_metadata=["not", "an", "object"]
    )
    html = viewer.get(f"/applies/{apply.pk}/").content.decode()
    assert "stored metadata is a list, not an object" in html


def test_partial_and_query_count(viewer: Client, django_assert_max_num_queries: Any) -> None:
    apply = stuck_apply()
    with (
        django_assert_max_num_queries(6, using="schemabot"),
        django_assert_max_num_queries(5, using="default"),
    ):
        response = viewer.get(f"/applies/{apply.pk}/?partial=1")
    assert response.status_code == 200 and "<html" not in response.content.decode()


def test_detail_shows_each_drive_s_steps_next_step_and_last_error(viewer: Client) -> None:
    apply = stuck_apply()
    Drive.objects.create(
        apply_id=apply.pk,
        apply_identifier=apply.apply_identifier,
        owner="node-a/1/sweep",
        lease_token="d" * 36,
        trigger="sweep",
        claimed_state=A.CREATING_DEPLOY_REQUEST,
        outcome=Drive.Outcome.RUNNING,
        steps=41,
        next_due_at=PreciseNow(-1),
        held_by="node-b/9/loop-1#3",
        consecutive_errors=1,
        last_error="EngineUnavailable: token=s3cret refused",
    )
    html = viewer.get(f"/applies/{apply.pk}/").content.decode()
    drives = html[html.index("Recovery drives") :]
    assert '<td class="num">41</td>' in drives
    assert "now" in drives and "stepping: node-b/9/loop-1#3" in drives
    assert "1 in a row: EngineUnavailable" in drives and "s3cret" not in drives
