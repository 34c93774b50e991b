"""The PlanetScale client's transport over real HTTP: retries, backoff, errors, secrecy.

LocalScale serves from a thread of the test process and injects the faults.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django import Settings

from applies.engines.base import (
    BranchTarget,
    EngineConflict,
    EngineError,
    EngineNotFound,
    EngineRejected,
    EngineUnavailable,
)
from applies.engines.planetscale import PlanetScaleConfig, PlanetScaleEngine
from localscale.server import serve_in_thread
from localscale.testing import TEST_TOKEN, LocalScaleAdmin, fast_config
from tests.helpers import free_port

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "schemabot"])

TARGET = BranchTarget(
    database="shop_db",
    branch="schemabot-shop-db-0badcafe",
    apply_identifier="apply-client",
    statements=("CREATE TABLE t (id int)",),
)
BRANCH_PATH = f"/branches/{TARGET.branch}$"


@pytest.fixture
def localscale(settings: Settings) -> Iterator[str]:
    settings.LOCALSCALE_TIME_SCALE = 1000.0
    with serve_in_thread() as url:
        yield url


@pytest.fixture
def admin(localscale: str) -> LocalScaleAdmin:
    return LocalScaleAdmin(localscale)


class Recorder:
    """Stands in for ``time.sleep``: records the backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client(url: str, sleep: Any = time.sleep, **overrides: Any) -> PlanetScaleEngine:
    return PlanetScaleEngine(fast_config(url, **overrides), sleep=sleep)


def branch_reads(admin: LocalScaleAdmin) -> list[int]:
    return [
        call["status"]
        for call in admin.calls(TARGET.apply_identifier)
        if call["path"].endswith(f"/branches/{TARGET.branch}")
    ]


@pytest.fixture
def branch(localscale: str) -> None:
    with client(localscale) as engine:
        engine.ensure_branch(TARGET)


def test_a_5xx_is_retried_until_it_succeeds(
    localscale: str, admin: LocalScaleAdmin, branch: None
) -> None:
    admin.add_fault(method="GET", path=BRANCH_PATH, status=503, count=2)
    sleep = Recorder()
    with client(
        localscale, sleep=sleep, max_retries=3, backoff_seconds=0.1, backoff_cap_seconds=1.0
    ) as engine:
        assert engine.get_branch(TARGET).ready
    assert branch_reads(admin)[-3:] == [503, 503, 200]
    # Exponential with jitter: the second wait is in [0.1, 0.2], about twice the first.
    assert len(sleep.delays) == 2
    assert 0.05 <= sleep.delays[0] <= 0.1 and 0.1 <= sleep.delays[1] <= 0.2


def test_a_429_waits_as_long_as_retry_after_says(
    localscale: str, admin: LocalScaleAdmin, branch: None
) -> None:
    admin.add_fault(method="GET", path=BRANCH_PATH, status=429, retry_after=1)
    started = time.monotonic()
    with client(localscale) as engine:
        engine.get_branch(TARGET)
    assert time.monotonic() - started >= 0.95
    assert branch_reads(admin)[-2:] == [429, 200]


def test_a_persistent_5xx_is_unavailable_after_the_retries(
    localscale: str, admin: LocalScaleAdmin, branch: None
) -> None:
    admin.add_fault(method="GET", path=BRANCH_PATH, status=500, count=10, message="db is down")
    sleep = Recorder()
    before = len(branch_reads(admin))
    with (
        client(localscale, sleep=sleep, max_retries=3) as engine,
        pytest.raises(EngineUnavailable, match=r"500 db is down \(4 attempt\(s\)\)"),
    ):
        engine.get_branch(TARGET)
    assert len(branch_reads(admin)) - before == 4
    assert len(sleep.delays) == 3


def test_an_unreachable_api_is_unavailable() -> None:
    sleep = Recorder()
    with (
        client(f"http://127.0.0.1:{free_port()}", sleep=sleep, max_retries=2) as engine,
        pytest.raises(EngineUnavailable, match="ConnectError"),
    ):
        engine.get_branch(TARGET)
    assert len(sleep.delays) == 2


def test_a_hung_call_times_out_and_is_retried(
    localscale: str, admin: LocalScaleAdmin, branch: None
) -> None:
    admin.add_fault(method="GET", path=BRANCH_PATH, delay_ms=800)
    before = len(branch_reads(admin))
    with client(localscale, timeout_seconds=0.3) as engine:
        assert engine.get_branch(TARGET).ready
    # The slow call still finishes on the server (logged last): the retry did not wait for it.
    deadline = time.monotonic() + 5
    while len(branch_reads(admin)) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert branch_reads(admin)[before:] == [200, 200]


def test_a_4xx_is_rejected_with_the_apis_message(localscale: str) -> None:
    bad = BranchTarget("shop_db", "Not_A_Valid_Name", "apply-client", ())
    with client(localscale) as engine, pytest.raises(EngineRejected) as caught:
        engine.ensure_branch(bad)
    assert caught.value.status == 422
    assert "Branch name 'Not_A_Valid_Name' is not valid." in str(caught.value)
    assert not isinstance(caught.value, EngineUnavailable)


def test_404_is_not_found_and_409_is_a_conflict(
    localscale: str, admin: LocalScaleAdmin, branch: None
) -> None:
    with client(localscale) as engine:
        with pytest.raises(EngineNotFound) as missing:
            engine.get_deploy_request(TARGET, 404)
        assert missing.value.status == 404
        admin.add_fault(method="GET", path=BRANCH_PATH, conflict=True, message="busy")
        with pytest.raises(EngineConflict, match="409 busy"):
            engine.get_branch(TARGET)


def test_rejections_are_not_retried(localscale: str, admin: LocalScaleAdmin, branch: None) -> None:
    admin.add_fault(method="GET", path=BRANCH_PATH, status=400, count=5)
    sleep = Recorder()
    with client(localscale, sleep=sleep) as engine, pytest.raises(EngineRejected):
        engine.get_branch(TARGET)
    assert sleep.delays == []


def test_no_authorization_is_a_401(localscale: str) -> None:
    with (
        client(localscale, token_id="") as engine,
        pytest.raises(EngineRejected, match="401") as caught,
    ):
        engine.get_branch(TARGET)
    assert caught.value.status == 401


def test_the_token_never_appears_in_errors_or_logs(
    localscale: str, admin: LocalScaleAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # An API that echoes the credentials back in its error message.
    admin.add_fault(path="/branches/", status=503, count=20, message=f"bad auth {TEST_TOKEN}")
    errors: list[EngineError] = []
    with client(localscale, max_retries=1) as engine:
        for call in (engine.get_branch, engine.ensure_branch):
            with pytest.raises(EngineError) as caught:
                call(TARGET)
            errors.append(caught.value)
    with client(f"http://127.0.0.1:{free_port()}", max_retries=0) as engine:
        with pytest.raises(EngineError) as caught:
            engine.get_branch(TARGET)
        errors.append(caught.value)
    assert all(TEST_TOKEN not in str(error) for error in errors)
    assert "[redacted]" in str(errors[0])
    assert TEST_TOKEN not in caplog.text
    assert TEST_TOKEN not in repr(fast_config(localscale))


def test_every_call_says_which_apply_made_it(admin: LocalScaleAdmin, branch: None) -> None:
    calls = admin.calls(TARGET.apply_identifier)
    assert calls and all(call["apply_identifier"] == "apply-client" for call in calls)


def test_the_demo_points_at_the_local_emulator(settings: Settings) -> None:
    config = PlanetScaleConfig.from_settings()
    assert config.api_url == f"http://127.0.0.1:{settings.LOCALSCALE_PORT}"
    assert config.organization == "ternadmin-demo"
