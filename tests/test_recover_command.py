"""``manage.py recover``: the console's reclaim, from a command line, then a foreground drive.

The claim goes through the reclaim service (the same rules, the same audit row as the
console's button); the drive runs the driver's steps in this process. A pending stop makes the
drive's first step end the apply without any engine call, so nothing here needs an engine.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command

from applies.demo.fresh import create_fresh_apply
from applies.models import Apply, ApplyControlRequest, ApplyLog
from applies.states import ApplyState
from tests.factories import set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])
A = ApplyState


def test_recover_claims_as_the_console_does_and_audits_it(settings: Any) -> None:
    settings.PLANETSCALE_API_URL = "http://127.0.0.1:9"  # never asked: the stop comes first
    apply = create_fresh_apply("planetscale")
    ApplyControlRequest.objects.create(
        apply_id=apply.pk, operation="stop", status="pending", requested_by="alice", metadata={}
    )

    call_command("recover", str(apply.pk), "--reason", "INC-7: host lost")

    assert Apply.objects.get(pk=apply.pk).state == A.CANCELLED
    audit = ApplyLog.objects.get(apply_id=apply.pk, message__startswith="Reclaimed by operator")
    assert audit.source == "ternadmin"
    assert (audit.old_state, audit.new_state) == (A.PENDING, A.RUNNING)
    assert audit.message.endswith("(command line): INC-7: host lost)")
    assert audit.metadata["owner"].endswith("/recover")


def test_recover_refuses_an_apply_a_live_driver_holds() -> None:
    apply = create_fresh_apply("planetscale")
    Apply.objects.filter(pk=apply.pk).update(state=A.RUNNING, lease_token="held-by-someone")
    set_heartbeat_age(apply, 1)

    with pytest.raises(CommandError, match="is not claimable now: heartbeat is fresh"):
        call_command("recover", str(apply.pk))

    assert not ApplyLog.objects.filter(apply_id=apply.pk).exists()


def test_recover_names_a_missing_apply() -> None:
    with pytest.raises(CommandError, match="there is no apply with id 424242"):
        call_command("recover", "424242")
