"""Django admin over SchemaBot's tables: read-only pages, bounded queries, no COUNT(*).

The fix page and the actions are in ``test_admin_fixes.py``; the helpers here (users with a
role, counting both databases' queries) are shared with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from applies.admin.filters import environments
from applies.models import Apply, ApplyControlRequest, ApplyLog, ApplyOperation, Lock, Plan, Task
from applies.paginators import PeekPaginator
from applies.roles import Role
from applies.services.audit import audit
from applies.states import ApplyState
from applies.vocabulary import LogEvent
from tests.claim_fixtures import FRESH, make_apply
from tests.factories import (
    ApplyControlRequestFactory,
    ApplyFactory,
    ApplyLogFactory,
    LockFactory,
    PlanFactory,
)

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState
CHANGELIST = "/admin/applies/apply/"
# Session, user, two permission reads and the page itself, whatever the table's size; the
# environment filter's choices cost one index seek per environment, plus one; the
# classification filter adds classify.live's reads: one index probe per state present, plus one,
# then the two classified reads (many_applies uses two states).
CHANGELIST_QUERIES = 5
CLASSIFY_QUERIES = (2 + 1) + 2


def staff_user(role: Role, name: str | None = None, *, password: str | None = None) -> User:
    """A staff user holding exactly ``role`` (only ``admin`` is staff in real life).

    Without a password (``force_login`` needs none) no slow password hash is computed.
    """
    user = User.objects.create_user(name or f"{role}-user", password=password, is_staff=True)
    user.groups.add(Group.objects.get(name=role.value))
    return user


@dataclass
class Queries:
    statements: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.statements)

    def counting(self) -> list[str]:
        return [sql for sql in self.statements if "count(" in sql.lower()]


@contextmanager
def all_queries() -> Iterator[Queries]:
    """Every statement sent to either database inside the block."""
    found = Queries()
    with ExitStack() as stack:
        contexts = [
            stack.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in ("default", settings.SCHEMABOT_DATABASE)
        ]
        yield found
    for context in contexts:
        found.statements += [query["sql"] for query in context.captured_queries]


def result_rows(body: bytes) -> str:
    """The changelist's results table alone (the filter sidebar repeats every state label)."""
    text = body.decode()
    if 'id="result_list"' not in text:
        return ""
    return text.split('id="result_list"', 1)[1].split("</table>", 1)[0]


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(staff_user(Role.ADMIN))
    return client


def many_applies(n: int) -> None:
    lock, plan = LockFactory.create(), PlanFactory.create()
    Apply.objects.bulk_create(
        Apply(
            apply_identifier=f"apply-bulk-{i:05d}",
            lock=lock,
            plan=plan,
            database_name=f"db_{i}",
            database_type="vitess",
            repository="acme/s",
            pull_request=1,
            environment="production" if i % 2 else "staging",
            engine="planetscale",
            state=A.COMPLETED if i % 3 else A.RUNNING,
            options={},
        )
        for i in range(n)
    )


# --- the applies list ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?state=running",
        "?environment=production",
        "?environment=production&state=completed",
        "?classification=claimable_now",
        "?classification=wedged",
        "?classification=terminal",
        "?q=apply-bulk-0001",
        "?p=2",
    ],
)
def test_the_changelist_never_counts_and_its_queries_are_bounded(
    admin_client: Client, query: str
) -> None:
    many_applies(130)
    with all_queries() as queries:
        response = admin_client.get(CHANGELIST + query)
    assert response.status_code == 200
    assert queries.counting() == []
    environments = 2  # many_applies uses production and staging
    bound = CHANGELIST_QUERIES + environments + 1
    bound += CLASSIFY_QUERIES if "classification" in query else 0
    assert len(queries) <= bound, "\n".join(queries.statements)


def test_the_changelist_pages_without_counting(admin_client: Client) -> None:
    many_applies(120)
    first = admin_client.get(CHANGELIST).content.decode()
    assert "applies 1–50; more follow" in first
    assert "120 applies" not in first
    last = admin_client.get(CHANGELIST + "?p=3").content.decode()
    assert "applies 101–120, the last" in last
    assert admin_client.get(CHANGELIST + "?p=9").status_code == 302  # beyond the end


def test_the_changelist_shows_state_heartbeat_and_unknown_states(admin_client: Client) -> None:
    make_apply(A.CREATING_DEPLOY_REQUEST, age=FRESH)
    make_apply("teleporting")
    response = admin_client.get(CHANGELIST)
    body = response.content.decode()
    assert 'class="badge badge--setup"' in body and "Creating deploy request" in body
    assert "Unknown (teleporting)" in body
    assert "heartbeat--live" in body  # the fresh one
    assert "across all pages" not in body  # no action over uncounted pages
    wedged = result_rows(admin_client.get(CHANGELIST + "?classification=wedged").content)
    assert "Unknown (teleporting)" in wedged and "Creating deploy request" not in wedged


def test_environment_choices_are_found_by_index_seeks() -> None:
    for environment in ("staging", "production", "staging", ""):
        ApplyFactory.create(environment=environment)
    with all_queries() as queries:
        assert environments() == ["", "production", "staging"]
    assert len(queries) == 4  # one seek per environment, and one that finds no more
    assert environments(limit=2) == ["", "production"]


def test_search_finds_an_apply_by_identifier_prefix(admin_client: Client) -> None:
    ApplyFactory.create(apply_identifier="apply-needle-1")
    ApplyFactory.create(apply_identifier="apply-hay-1")
    rows = result_rows(admin_client.get(CHANGELIST + "?q=apply-needle").content)
    assert "apply-needle-1" in rows and "apply-hay-1" not in rows


# --- an apply's page -----------------------------------------------------------------------------


def test_the_apply_page_is_read_only_with_children_and_audit_history(admin_client: Client) -> None:
    apply = make_apply(A.RUNNING, tasks=2)
    Apply.objects.filter(pk=apply.pk).update(options={"defer_cutover": True, "token": "s3cret"})
    ApplyLogFactory.create(apply=apply, message="Apply started by schemabot")
    audit(
        apply.pk,
        actor="bob",
        message="State fixed by hand: running → failed",
        event=LogEvent.STATE_TRANSITION,
        old_state="running",
        new_state="failed",
        reason="a reason bob gave",
    )
    with all_queries() as queries:
        response = admin_client.get(f"{CHANGELIST}{apply.pk}/change/")
    body = response.content.decode()
    assert response.status_code == 200
    assert queries.counting() == []
    assert 'name="_save"' not in body  # no generic save: edits go through the fixes
    assert "Fix state" in body
    assert "operations" in body and "task-" in body
    assert "Apply started by schemabot" in body
    assert "ternadmin audit history" in body and "a reason bob gave" in body
    assert "&quot;defer_cutover&quot;: true" in body and "s3cret" not in body


def test_a_log_line_quoting_a_password_is_masked_wherever_the_admin_names_the_row(
    admin_client: Client,
) -> None:
    """Django admin prints ``str(row)`` in a page's title, breadcrumbs and heading, and in each
    inline row: a log's name is its message, redacted before it is shortened."""
    apply = make_apply(A.RUNNING)
    log = ApplyLogFactory.create(apply=apply, message="dial mysql://app:s3cretpw@db:3306 failed")
    # Shortened first, the address would lose its '@' and the start of the password show.
    cut = ApplyLogFactory.create(apply=apply, message="x" * 45 + " mysql://app:s3cretpw@db:3306")
    assert "s3cretpw" not in str(log) and "app:s3" not in str(cut)
    for url in (f"/admin/applies/applylog/{log.pk}/change/", f"{CHANGELIST}{apply.pk}/change/"):
        body = admin_client.get(url).content.decode()
        assert "s3cretpw" not in body and "app:s3" not in body, url
        assert "mysql://app:•••@db:3306" in body, url


def test_the_audit_history_masks_secrets_in_messages_and_reasons(admin_client: Client) -> None:
    apply = make_apply(A.RUNNING)
    audit(
        apply.pk,
        actor="bob",
        message="Marked failed: dial mysql://app:s3cretpw@db:3306 refused",
        event=LogEvent.STATE_TRANSITION,
        old_state="running",
        new_state="failed",
        reason="the driver logged DB_PASSWORD=hunter2",
    )
    body = admin_client.get(f"{CHANGELIST}{apply.pk}/change/").content.decode()
    history = body.split('id="audit-history"', 1)[1]
    assert "s3cretpw" not in body and "hunter2" not in body
    assert "mysql://app:•••@db:3306 refused" in history and "DB_PASSWORD=•••" in history


def test_a_dangling_lock_or_plan_id_still_renders(admin_client: Client) -> None:
    apply = ApplyFactory.create()
    Lock.objects.filter(pk=apply.lock_id).delete()  # SchemaBot deletes locks; no FK stops it
    Plan.objects.filter(pk=apply.plan_id).delete()
    assert admin_client.get(f"{CHANGELIST}{apply.pk}/change/").status_code == 200


def test_a_viewer_sees_no_fix_link(client: Client) -> None:
    apply = ApplyFactory.create()
    client.force_login(staff_user(Role.VIEWER))
    body = client.get(f"{CHANGELIST}{apply.pk}/change/").content.decode()
    assert "Fix state" not in body


# --- read-only, append-only, never deleted -------------------------------------------------------


def test_nothing_is_added_saved_or_deleted_through_generic_forms(admin_client: Client) -> None:
    apply = ApplyFactory.create(state=A.RUNNING)
    log = ApplyLogFactory.create(apply=apply)
    before = Apply.objects.get(pk=apply.pk).updated_at
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert (
        admin_client.post(f"{CHANGELIST}{apply.pk}/change/", {"state": "failed"}).status_code == 403
    )
    assert admin_client.post(f"{CHANGELIST}{apply.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/applies/applylog/add/").status_code == 403
    assert admin_client.post(f"/admin/applies/applylog/{log.pk}/delete/").status_code == 403
    row = Apply.objects.get(pk=apply.pk)
    assert (row.state, row.updated_at) == (A.RUNNING, before)
    assert ApplyLog.objects.filter(pk=log.pk).exists()


@pytest.mark.parametrize(
    "model", ["applyoperation", "task", "applylog", "applycontrolrequest", "lock", "plan"]
)
def test_every_table_has_a_list_and_a_page(admin_client: Client, model: str) -> None:
    apply = make_apply(A.RUNNING)
    ApplyLogFactory.create(apply=apply)
    ApplyControlRequestFactory.create(apply=apply)
    row = (
        {
            "applyoperation": ApplyOperation,
            "task": Task,
            "applylog": ApplyLog,
            "applycontrolrequest": ApplyControlRequest,
            "lock": Lock,
            "plan": Plan,
        }[model]
        .objects.order_by("pk")
        .first()
    )
    assert row is not None
    with all_queries() as queries:
        listing = admin_client.get(f"/admin/applies/{model}/")
    assert listing.status_code == 200 and queries.counting() == []
    # No joins: a list page reads its own table's index, and relations may dangle.
    assert [sql for sql in queries.statements if " JOIN " in sql and "auth_" not in sql] == []
    page = admin_client.get(f"/admin/applies/{model}/{row.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()


def test_children_of_a_missing_apply_still_render(admin_client: Client) -> None:
    apply = make_apply(A.RUNNING)
    operation = ApplyOperation.objects.get(apply_id=apply.pk)
    task = Task.objects.get(apply_id=apply.pk)
    Apply.objects.filter(pk=apply.pk).delete()  # no foreign keys: children may outlive it
    assert (
        admin_client.get(f"/admin/applies/applyoperation/{operation.pk}/change/").status_code == 200
    )
    assert admin_client.get(f"/admin/applies/task/{task.pk}/change/").status_code == 200
    assert admin_client.get("/admin/applies/task/").status_code == 200


# --- the paginator -------------------------------------------------------------------------------


def test_the_peek_paginator_reads_one_page_plus_one_row() -> None:
    rows = list(range(1, 121))
    first = PeekPaginator(rows, 50, page=1)
    assert (first.count, first.has_more, first.num_pages) == (51, True, 2)
    assert list(first.page(1).object_list) == rows[:50]
    last = PeekPaginator(rows, 50, page=3)
    assert (last.count, last.has_more, last.shown_from, last.shown_to) == (120, False, 101, 120)
    assert list(last.page(3).object_list) == rows[100:]
    assert list(last.page(1).object_list) == rows[:50]
    assert PeekPaginator.page_number("x") == 1 and PeekPaginator.page_number("0") == 1
