"""The applies list: filters on indexed predicates, keyset pages, no COUNT(*)."""

from __future__ import annotations

import re

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from applies import selectors
from applies.models import Apply
from applies.roles import Role
from applies.selectors import Cursor, Order
from applies.states import ApplyState
from tests.claim_fixtures import FRESH, make_apply
from tests.console_fixtures import client_for, new_applies, new_apply
from tests.factories import set_heartbeat_age

pytestmark = pytest.mark.django_db(databases=["default", "schemabot"])

A = ApplyState


@pytest.fixture
def viewer() -> Client:
    return client_for(Role.VIEWER)


def ids_in(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'href="/applies/(\d+)/"', html)]


def newest_first(n: int, **fields: object) -> list[Apply]:
    applies = new_applies(n, **fields)
    return sorted(applies, key=lambda a: (a.created_at, a.pk), reverse=True)


def test_keyset_pages_walk_forward_and_back() -> None:
    rows = newest_first(7)
    base = selectors.base_queryset()

    first = selectors.apply_page(base, size=3)
    assert [r.pk for r in first.rows] == [r.pk for r in rows[:3]]
    assert first.first and first.older is not None
    second = selectors.apply_page(base, size=3, after=first.older)
    assert [r.pk for r in second.rows] == [r.pk for r in rows[3:6]]
    last = selectors.apply_page(base, size=3, after=second.older)
    assert [r.pk for r in last.rows] == [rows[6].pk] and last.older is None
    back = selectors.apply_page(base, size=3, before=last.newer)
    assert [r.pk for r in back.rows] == [r.pk for r in rows[3:6]]
    assert back.newer is not None and back.older is not None
    top = selectors.apply_page(base, size=3, before=back.newer)
    assert [r.pk for r in top.rows] == [r.pk for r in rows[:3]] and top.first


def test_oldest_first_and_ties_on_created_at_are_broken_by_id() -> None:
    rows = newest_first(5)
    Apply.objects.using("schemabot").update(created_at=rows[0].created_at)  # all the same second
    base = selectors.base_queryset()
    first = selectors.apply_page(base, order=Order.OLDEST, size=2)
    rest = selectors.apply_page(base, order=Order.OLDEST, size=10, after=first.older)
    assert [r.pk for r in first.rows + rest.rows] == sorted(r.pk for r in rows)


def test_cursor_round_trip_and_garbage() -> None:
    apply = new_apply()
    cursor = Cursor.of(apply)
    assert Cursor.decode(cursor.encode()) == cursor
    for garbage in ("", "x", "1.", ".5", "99999999999999999999.1", None):
        assert Cursor.decode(garbage) is None


def test_list_page_pages_without_counting(viewer: Client) -> None:
    rows = newest_first(53)
    connection = connections["schemabot"]
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get("/applies/")
    assert response.status_code == 200
    html = response.content.decode()
    assert ids_in(html) == [r.pk for r in rows[:50]]
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    older = re.search(r'href="\?([^"]*after=[^"]*)" rel="next"', html)
    assert older is not None
    html2 = viewer.get("/applies/?" + older.group(1).replace("&amp;", "&")).content.decode()
    assert ids_in(html2) == [r.pk for r in rows[50:]]
    assert 'rel="next"' not in html2 and 'rel="prev"' in html2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=failed", "failed"),
        ("engine=spirit&environment=staging", "spirit"),
        ("environment=production", "production"),
        ("database=ledger", "ledger"),
        ("repository=acme/other&pull_request=7", "pr7"),
        ("repository=acme/schemas&deployment=eu-west", "eu-west"),
        ("q=acme/other%237", "pr7"),
    ],
)
def test_filters(viewer: Client, query: str, expected: str) -> None:
    made = {
        "failed": new_apply(state=A.FAILED),
        "spirit": new_apply(engine="spirit"),
        "production": new_apply(environment="production"),
        "ledger": new_apply(database_name="ledger"),
        "pr7": new_apply(repository="acme/other", pull_request=7),
        "eu-west": new_apply(deployment="eu-west"),
    }
    response = viewer.get(f"/applies/?{query}")
    assert response.status_code == 200
    assert ids_in(response.content.decode()) == [made[expected].pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [("engine=spirit", "Engine"), ("deployment=eu-west", "Deployment"), ("pull_request=7", "PR")],
)
def test_a_filter_no_index_starts_with_needs_one_that_does(
    viewer: Client, query: str, field: str
) -> None:
    """Alone, ``engine``, ``deployment`` or ``pull_request`` would walk ``idx_created_id``
    testing every row: the whole table when nothing matches."""
    new_apply(engine="spirit", deployment="eu-west", pull_request=7)
    with CaptureQueriesContext(connections["schemabot"]) as queries:
        response = viewer.get(f"/applies/?{query}")
    assert response.status_code == 200 and ids_in(response.content.decode()) == []
    assert f"{field} only narrows another filter" in response.content.decode()
    assert [q["sql"] for q in queries.captured_queries if "LIMIT" in q["sql"]] == []
    # With a filter that narrows an index, the same parameter narrows further.
    assert len(ids_in(viewer.get(f"/applies/?{query}&state=running").content.decode())) == 1


def test_search_by_id_and_identifier_prefix(viewer: Client) -> None:
    apply = new_apply(apply_identifier="apply-feedface01")
    new_apply(apply_identifier="apply-0badcafe02")
    assert ids_in(viewer.get(f"/applies/?q={apply.pk}").content.decode()) == [apply.pk]
    assert ids_in(viewer.get("/applies/?q=apply-feed").content.decode()) == [apply.pk]


def test_classification_and_heartbeat_filters_look_at_unfinished_applies(viewer: Client) -> None:
    stale = make_apply(A.VALIDATING_BRANCH)
    wedged = make_apply("teleporting")
    healthy = make_apply(A.RUNNING, age=FRESH)
    paused = make_apply(A.PAUSED)
    done = new_apply(state=A.COMPLETED)
    set_heartbeat_age(done, 7200)

    def listed(query: str) -> set[int]:
        return set(ids_in(viewer.get(f"/applies/?{query}").content.decode()))

    assert listed("classification=stale") == {stale.pk}
    assert listed("classification=wedged") == {wedged.pk}
    assert listed("classification=healthy") == {healthy.pk}
    assert listed("classification=needs_human") == {paused.pk}
    assert listed("heartbeat=fresh") == {healthy.pk}
    assert healthy.pk not in listed("heartbeat=stale") and done.pk not in listed("heartbeat=1h")


def test_rows_show_badges_heartbeat_and_classification(viewer: Client) -> None:
    make_apply(A.CREATING_DEPLOY_REQUEST)
    html = viewer.get("/applies/").content.decode()
    assert "Creating deploy request" in html and "Claimable now" in html
    assert re.search(r">2m(\d+s)?<", html)  # STALE = 120 s, by the database clock


def test_only_indexed_orderings_are_offered(viewer: Client) -> None:
    html = viewer.get("/applies/").content.decode()
    assert "sort=-created_at" in html or "sort=created_at" in html
    assert "sort=state" not in html and "sort=engine" not in html


def test_an_invalid_filter_lists_nothing(viewer: Client) -> None:
    new_apply()
    response = viewer.get("/applies/?engine=cobol")
    assert response.status_code == 200 and ids_in(response.content.decode()) == []


def test_list_query_count_does_not_grow_with_rows(
    viewer: Client, django_assert_max_num_queries: object
) -> None:
    new_applies(60)
    make_apply(A.RUNNING)
    with (
        django_assert_max_num_queries(2, using="schemabot"),  # type: ignore[operator]
        django_assert_max_num_queries(4, using="default"),  # type: ignore[operator]
    ):
        assert viewer.get("/applies/?state=running").status_code == 200
    with CaptureQueriesContext(connections["schemabot"]) as classified:
        assert viewer.get("/applies/?classification=stale").status_code == 200
    # The unfinished set: a probe per distinct state present (here 2), then its rows.
    assert len(classified) <= 2 + 2 + 1 + 4


def test_filters_on_the_ordered_indexes_lead_the_order_by(viewer: Client) -> None:
    new_apply(state=A.FAILED, environment="production")
    with CaptureQueriesContext(connections["schemabot"]) as queries:
        viewer.get("/applies/?state=failed&environment=production")
    (page_query,) = [q["sql"] for q in queries.captured_queries if "LIMIT 51" in q["sql"]]
    order_by = page_query.rsplit("ORDER BY", 1)[1]
    assert order_by.index("environment") < order_by.index("state") < order_by.index("created_at")
    assert ">=" in page_query and "<=" in page_query  # ranges, never a ref scan to the cursor
