"""The graphics REST API: list, read, create, edit, archive, restore, duplicate, delete, events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from graphics.models import Graphic
from graphics.serialization import graphic_payload, graphic_summary
from locks.models import CanvasLock
from locks.selectors import lock_live, lock_state
from locks.services import lock_acquire
from tests.conftest import error_of, expire_lock, text_element, valid_canvas

pytestmark = pytest.mark.django_db


LIST_URL = "/api/graphics/"


def api_client(user: Any = None) -> APIClient:
    """A client that authenticates as `user` with a real access token (anonymous for None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def detail_url(graphic_id: int, action: str = "") -> str:
    return f"/api/graphics/{graphic_id}/" + (f"{action}/" if action else "")


# --- list -----------------------------------------------------------------------------------


def test_list_shows_active_graphic_summaries_with_their_lock(
    viewer: Any, editor: Any, make_graphic: Any
) -> None:
    """The list shows each active graphic as its summary (no canvas) plus its lock state."""
    free = make_graphic(title="Free")
    locked = make_graphic(title="Locked")
    lock = lock_acquire(user=editor, graphic_id=locked.pk)

    response = api_client(viewer).get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["next"] is None and body["previous"] is None
    by_id = {item["id"]: item for item in body["results"]}
    free.refresh_from_db()
    locked.refresh_from_db()
    assert by_id[free.pk] == {**graphic_summary(free), "lock": lock_state(None)}
    assert by_id[locked.pk] == {**graphic_summary(locked), "lock": lock_state(lock)}
    assert by_id[locked.pk]["lock"]["locked_by"] == "editor"
    assert "data" not in by_id[free.pk]


def test_list_is_most_recently_changed_first(viewer: Any, make_graphic: Any) -> None:
    """Graphics come newest change first."""
    first = make_graphic(title="First")
    second = make_graphic(title="Second")
    Graphic.objects.filter(pk=first.pk).update(updated_at=timezone.now() + timedelta(minutes=1))

    ids = [item["id"] for item in api_client(viewer).get(LIST_URL).json()["results"]]

    assert ids == [first.pk, second.pk]


def test_list_shows_an_expired_lock_as_free(viewer: Any, editor: Any, graphic: Any) -> None:
    """A lock past its expiry shows as free in the list."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    expire_lock(graphic)

    item = api_client(viewer).get(LIST_URL).json()["results"][0]

    assert item["lock"] == lock_state(None)


def test_list_archived_filter_picks_the_tab(viewer: Any, editor: Any, make_graphic: Any) -> None:
    """archived=false (the default) lists active graphics, true the archive, all both."""
    from graphics.services import graphic_archive

    active = make_graphic(title="Active")
    archived = make_graphic(title="Archived")
    graphic_archive(user=editor, graphic_id=archived.pk)
    client = api_client(viewer)

    def ids(query: str) -> set[int]:
        return {item["id"] for item in client.get(LIST_URL + query).json()["results"]}

    assert ids("") == {active.pk}
    assert ids("?archived=false") == {active.pk}
    assert ids("?archived=true") == {archived.pk}
    assert ids("?archived=all") == {active.pk, archived.pk}


def test_list_rejects_an_unknown_archived_filter(viewer: Any) -> None:
    """An archived value other than false/true/all is a field error."""
    response = api_client(viewer).get(LIST_URL + "?archived=maybe")

    error = error_of(response, 400, "validation_error")
    assert error["details"] == {"archived": ["Must be one of false, true, all."]}


def test_list_filters_by_exact_event_name(viewer: Any, make_graphic: Any) -> None:
    """event_name keeps only that event's graphics."""
    week2 = make_graphic(event_name="GAL Week 2")
    make_graphic(event_name="GAL Week 3")
    make_graphic(event_name="GAL Week 22")

    results = api_client(viewer).get(LIST_URL, {"event_name": "GAL Week 2"}).json()["results"]

    assert [item["id"] for item in results] == [week2.pk]


def test_list_search_matches_title_or_event_name_in_any_case(
    viewer: Any, make_graphic: Any
) -> None:
    """q finds graphics whose title or event name contains it, ignoring case."""
    by_title = make_graphic(title="Lobby Standings", event_name="Week 1")
    by_event = make_graphic(title="Scoreboard", event_name="Standings Finals")
    make_graphic(title="Player card", event_name="Week 1")

    results = api_client(viewer).get(LIST_URL, {"q": "STANDINGS"}).json()["results"]

    assert {item["id"] for item in results} == {by_title.pk, by_event.pk}


def test_list_is_paginated_with_page_and_page_size(viewer: Any, make_graphic: Any) -> None:
    """page_size sets the page length; page walks the pages; next/previous link them."""
    graphics = [make_graphic(title=f"G{i}") for i in range(5)]
    newest_first = [g.pk for g in reversed(graphics)]
    client = api_client(viewer)

    page1 = client.get(LIST_URL, {"page_size": 2}).json()
    page3 = client.get(LIST_URL, {"page_size": 2, "page": 3}).json()

    assert page1["count"] == 5
    assert [item["id"] for item in page1["results"]] == newest_first[:2]
    assert "page=2" in page1["next"] and page1["previous"] is None
    assert [item["id"] for item in page3["results"]] == newest_first[4:]
    assert page3["next"] is None


def test_list_page_size_is_capped_at_200(viewer: Any, make_graphic: Any) -> None:
    """Asking for more than 200 a page gives 200; the default page is 50."""
    author = make_graphic().created_by
    Graphic.objects.bulk_create(
        Graphic(title=f"G{i}", event_name="Bulk", created_by=author, updated_by=author)
        for i in range(201)
    )
    client = api_client(viewer)

    assert len(client.get(LIST_URL, {"page_size": 1000}).json()["results"]) == 200
    assert len(client.get(LIST_URL).json()["results"]) == 50


def test_list_page_past_the_end_is_not_found(viewer: Any, graphic: Any) -> None:
    """A page number past the last page is a 404 in the error shape."""
    response = api_client(viewer).get(LIST_URL, {"page": 9})

    error_of(response, 404, "not_found")


def test_list_query_count_does_not_grow_with_the_number_of_graphics(
    viewer: Any,
    editor: Any,
    make_graphic: Any,
    django_assert_num_queries: Any,
    django_assert_max_num_queries: Any,
) -> None:
    """Listing reads graphics, their authors and their locks in a fixed number of queries."""
    client = api_client(viewer)

    def add_locked_graphics(count: int) -> None:
        for _ in range(count):
            lock_acquire(user=editor, graphic_id=make_graphic(by=editor).pk)

    add_locked_graphics(2)
    # Authenticate the user, read their permissions (2), count, page.
    with django_assert_max_num_queries(5) as few:
        assert client.get(LIST_URL).status_code == 200
    add_locked_graphics(10)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(LIST_URL)
    assert response.json()["count"] == 12
    assert all(item["lock"]["locked_by"] == "editor" for item in response.json()["results"])


# --- create ---------------------------------------------------------------------------------


def test_create_answers_201_with_the_full_graphic(editor: Any) -> None:
    """Creating returns the whole graphic as the WebSocket shows it, with a free lock."""
    canvas = valid_canvas()

    response = api_client(editor).post(
        LIST_URL, {"title": "Standings", "event_name": "GAL Week 2", "data": canvas}, format="json"
    )

    assert response.status_code == 201
    graphic = Graphic.objects.get()
    assert response.json() == {**graphic_payload(graphic), "lock": lock_state(None)}
    assert response.json()["data"] == canvas
    assert response.json()["version"] == 1
    assert response.json()["created_by"] == {"id": editor.pk, "username": "editor"}


def test_create_without_data_gives_an_empty_canvas(editor: Any) -> None:
    """data is optional: omitted or null, the graphic starts with an empty canvas."""
    client = api_client(editor)

    omitted = client.post(LIST_URL, {"title": "A", "event_name": "E"}, format="json")
    null = client.post(LIST_URL, {"title": "B", "event_name": "E", "data": None}, format="json")

    assert omitted.status_code == null.status_code == 201
    assert omitted.json()["data"] == null.json()["data"] == {"background": None, "elements": []}


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"event_name": "E"}, {"title": ["This field is required."]}),
        ({"title": "   ", "event_name": "E"}, {"title": ["This field may not be blank."]}),
        ({"title": 7, "event_name": "E"}, {"title": ["Must be a string."]}),
        (
            {"title": "x" * 256, "event_name": "E"},
            {"title": ["Ensure this field has no more than 255 characters."]},
        ),
        ({"title": "T", "event_name": ["E"]}, {"event_name": ["Must be a string."]}),
        ({"title": "T", "event_name": "E", "data": []}, {"data": ["Must be a JSON object."]}),
    ],
)
def test_create_rejects_invalid_fields_field_by_field(
    editor: Any, body: dict[str, Any], details: dict[str, Any]
) -> None:
    """Invalid fields are a 400 validation_error naming each field; nothing is created."""
    response = api_client(editor).post(LIST_URL, body, format="json")

    assert error_of(response, 400, "validation_error")["details"] == details
    assert not Graphic.objects.exists()


def test_create_rejects_an_invalid_canvas_at_the_field(editor: Any) -> None:
    """A canvas error names the element field, like data.elements[0].x."""
    canvas = valid_canvas(elements=[text_element(x="40")])

    response = api_client(editor).post(
        LIST_URL, {"title": "T", "event_name": "E", "data": canvas}, format="json"
    )

    details = error_of(response, 400, "validation_error")["details"]
    assert list(details) == ["data.elements[0].x"]


def test_create_rejects_a_canvas_over_the_size_limit(editor: Any, settings: Any) -> None:
    """Canvas data over GRAPHIC_DATA_MAX_BYTES is a 413 too_large naming the limit."""
    settings.GRAPHIC_DATA_MAX_BYTES = 2048
    canvas = valid_canvas(elements=[text_element(content="x" * 3000)])

    response = api_client(editor).post(
        LIST_URL, {"title": "T", "event_name": "E", "data": canvas}, format="json"
    )

    error = error_of(response, 413, "too_large")
    assert "2048" in error["message"]
    assert list(error["details"]) == ["data"]
    assert not Graphic.objects.exists()


def test_create_rejects_a_body_that_is_not_an_object(editor: Any) -> None:
    """A JSON body must be an object."""
    response = api_client(editor).post(LIST_URL, ["title"], format="json")

    error = error_of(response, 400, "validation_error")
    assert error["details"] == {"non_field_errors": ["Expected a JSON object."]}


def test_create_rejects_malformed_json(editor: Any) -> None:
    """A body that is not JSON is a 400 invalid_json, never a 500."""
    response = api_client(editor).post(LIST_URL, '{"title": "T", ', content_type="application/json")

    error_of(response, 400, "invalid_json")


# --- retrieve -------------------------------------------------------------------------------


def test_retrieve_answers_the_full_graphic_with_its_lock(
    viewer: Any, editor: Any, graphic: Any
) -> None:
    """Reading a graphic gives graphic_payload (canvas included) plus the live lock."""
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)

    response = api_client(viewer).get(detail_url(graphic.pk))

    assert response.status_code == 200
    graphic.refresh_from_db()
    assert response.json() == {**graphic_payload(graphic), "lock": lock_state(lock)}
    assert response.json()["data"] == valid_canvas()


def test_retrieve_an_archived_graphic(viewer: Any, editor: Any, graphic: Any) -> None:
    """Archived graphics can still be read, with who archived them and when."""
    from graphics.services import graphic_archive

    graphic_archive(user=editor, graphic_id=graphic.pk)

    body = api_client(viewer).get(detail_url(graphic.pk)).json()

    assert body["archived"] is True
    assert body["archived_by"] == {"id": editor.pk, "username": "editor"}
    assert body["archived_at"].endswith("Z")


def test_retrieve_unknown_graphic_is_not_found(viewer: Any) -> None:
    """An id with no graphic is a 404 not_found."""
    error = error_of(api_client(viewer).get(detail_url(999999)), 404, "not_found")
    assert "999999" in error["message"]


# --- update ---------------------------------------------------------------------------------


def test_update_by_the_lock_holder_with_the_current_version(editor: Any, graphic: Any) -> None:
    """The lock holder sending the current version and its lock's fencing token changes the
    graphic and gets version + 1."""
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)
    canvas = valid_canvas(elements=[text_element(content="Final standings")])

    response = api_client(editor).patch(
        detail_url(graphic.pk),
        {
            "version": 1,
            "fencing_token": lock.fencing_token,
            "title": "Final Standings",
            "data": canvas,
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2
    assert body["title"] == "Final Standings"
    assert body["data"] == canvas
    assert body["event_name"] == "GAL Season 3 Week 2"
    assert body["lock"] == lock_state(lock_live(graphic_id=graphic.pk))
    assert body["lock"]["locked_by"] == "editor"
    graphic.refresh_from_db()
    assert (graphic.version, graphic.title, graphic.data) == (2, "Final Standings", canvas)


def test_update_with_the_same_values_makes_no_new_version(editor: Any, graphic: Any) -> None:
    """Sending the values a graphic already has changes nothing."""
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)

    response = api_client(editor).patch(
        detail_url(graphic.pk),
        {"version": 1, "fencing_token": lock.fencing_token, "title": graphic.title},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["version"] == 1


def test_update_without_the_lock_is_a_lock_conflict(editor: Any, graphic: Any) -> None:
    """Editing a graphic nobody has locked is refused: take the lock first."""
    response = api_client(editor).patch(
        detail_url(graphic.pk), {"version": 1, "title": "New"}, format="json"
    )

    error = error_of(response, 409, "lock_conflict")
    assert error["details"] == {"graphic_id": graphic.pk, "locked_by": None, "expires_at": None}
    graphic.refresh_from_db()
    assert graphic.title == "Round 3 Scoreboard"


def test_update_while_someone_else_holds_the_lock_names_them(
    editor: Any, editor2: Any, graphic: Any
) -> None:
    """The conflict names the holder and when their lock expires."""
    lock = lock_acquire(user=editor2, graphic_id=graphic.pk)

    response = api_client(editor).patch(
        detail_url(graphic.pk), {"version": 1, "title": "New"}, format="json"
    )

    error = error_of(response, 409, "lock_conflict")
    assert error["details"] == {
        "graphic_id": graphic.pk,
        "locked_by": "editor2",
        "locked_by_id": editor2.pk,
        "expires_at": lock_state(lock)["expires_at"],
    }
    assert "editor2" in error["message"]


def test_update_after_my_lock_expired_is_a_lock_conflict(editor: Any, graphic: Any) -> None:
    """A lock past its expiry no longer lets its holder edit."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    expire_lock(graphic)

    response = api_client(editor).patch(
        detail_url(graphic.pk), {"version": 1, "title": "New"}, format="json"
    )

    assert error_of(response, 409, "lock_conflict")["details"]["locked_by"] is None


def test_update_with_a_stale_version_names_the_current_one(editor: Any, graphic: Any) -> None:
    """Editing an old version is a version_conflict that says which version is current."""
    token = lock_acquire(user=editor, graphic_id=graphic.pk).fencing_token
    client = api_client(editor)
    client.patch(
        detail_url(graphic.pk),
        {"version": 1, "fencing_token": token, "title": "Second"},
        format="json",
    )

    response = client.patch(
        detail_url(graphic.pk),
        {"version": 1, "fencing_token": token, "title": "Third"},
        format="json",
    )

    error = error_of(response, 409, "version_conflict")
    assert error["details"] == {"current_version": 2, "your_version": 1}
    graphic.refresh_from_db()
    assert graphic.title == "Second"


def test_update_without_the_fencing_token_is_a_validation_error(editor: Any, graphic: Any) -> None:
    """The lock holder must present its lock's fencing token; nothing is changed without it."""
    lock_acquire(user=editor, graphic_id=graphic.pk)

    response = api_client(editor).patch(
        detail_url(graphic.pk), {"version": 1, "title": "New"}, format="json"
    )

    assert error_of(response, 400, "validation_error")["details"] == {
        "fencing_token": ["Required: the fencing_token of the lock you hold."]
    }
    graphic.refresh_from_db()
    assert graphic.version == 1


def test_update_under_a_lost_lock_is_refused_even_by_the_same_user(
    editor: Any, graphic: Any
) -> None:
    """A late edit made under a lock that expired and was taken again (here by the same user,
    in another tab) carries the old fencing token and is refused, although its version is
    current."""
    old_token = lock_acquire(user=editor, graphic_id=graphic.pk).fencing_token
    expire_lock(graphic)
    new_token = lock_acquire(user=editor, graphic_id=graphic.pk).fencing_token
    assert new_token > old_token

    response = api_client(editor).patch(
        detail_url(graphic.pk),
        {"version": 1, "fencing_token": old_token, "title": "Late"},
        format="json",
    )

    error = error_of(response, 409, "lock_conflict")
    assert error["details"]["fencing_token"] == new_token
    graphic.refresh_from_db()
    assert (graphic.version, graphic.title) == (1, "Round 3 Scoreboard")


def test_update_of_an_archived_graphic_is_a_state_conflict(editor: Any, graphic: Any) -> None:
    """Archived graphics cannot be edited."""
    Graphic.objects.filter(pk=graphic.pk).update(archived=True, archived_at=timezone.now())

    response = api_client(editor).patch(
        detail_url(graphic.pk), {"version": 1, "title": "New"}, format="json"
    )

    error_of(response, 409, "state_conflict")


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"title": "New"}, {"version": ["A whole number is required."]}),
        ({"version": "1", "title": "New"}, {"version": ["A whole number is required."]}),
        ({"version": 0, "title": "New"}, {"version": ["Must be at least 1."]}),
        ({"version": 1, "title": ""}, {"title": ["This field may not be blank."]}),
        ({"version": 1, "event_name": None}, {"event_name": ["This field is required."]}),
        (
            {"version": 1},
            {"non_field_errors": ["Give at least one of title, event_name, data."]},
        ),
    ],
)
def test_update_rejects_invalid_fields(
    editor: Any, graphic: Any, body: dict[str, Any], details: dict[str, Any]
) -> None:
    """Missing or mistyped fields are a 400 naming the field, even for the lock holder."""
    lock_acquire(user=editor, graphic_id=graphic.pk)

    response = api_client(editor).patch(detail_url(graphic.pk), body, format="json")

    assert error_of(response, 400, "validation_error")["details"] == details


def test_update_rejects_an_invalid_canvas_at_the_field(editor: Any, graphic: Any) -> None:
    """An invalid element is reported at its field."""
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)
    canvas = valid_canvas(elements=[text_element(), text_element("two", color="red")])

    response = api_client(editor).patch(
        detail_url(graphic.pk),
        {"version": 1, "fencing_token": lock.fencing_token, "data": canvas},
        format="json",
    )

    details = error_of(response, 400, "validation_error")["details"]
    assert list(details) == ["data.elements[1].color"]


def test_update_rejects_a_canvas_over_the_size_limit(
    editor: Any, graphic: Any, settings: Any
) -> None:
    """Canvas data over the limit is a 413 and the graphic is unchanged."""
    settings.GRAPHIC_DATA_MAX_BYTES = 2048
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)
    canvas = valid_canvas(elements=[text_element(content="x" * 3000)])

    response = api_client(editor).patch(
        detail_url(graphic.pk),
        {"version": 1, "fencing_token": lock.fencing_token, "data": canvas},
        format="json",
    )

    error_of(response, 413, "too_large")
    graphic.refresh_from_db()
    assert graphic.version == 1


def test_update_unknown_graphic_is_not_found(editor: Any) -> None:
    """Editing an id with no graphic is a 404."""
    response = api_client(editor).patch(
        detail_url(999999), {"version": 1, "title": "New"}, format="json"
    )

    error_of(response, 404, "not_found")


def test_put_is_not_allowed(editor: Any, graphic: Any) -> None:
    """Graphics are edited with PATCH; PUT is a 405."""
    response = api_client(editor).put(
        detail_url(graphic.pk), {"version": 1, "title": "New"}, format="json"
    )

    error_of(response, 405, "method_not_allowed")


# --- delete ---------------------------------------------------------------------------------


def test_delete_removes_the_graphic_for_good(lock_admin: Any, viewer: Any, graphic: Any) -> None:
    """A lock admin deletes permanently: 204, then the graphic is gone."""
    response = api_client(lock_admin).delete(detail_url(graphic.pk))

    assert response.status_code == 204
    assert response.content == b""
    assert not Graphic.objects.filter(pk=graphic.pk).exists()
    error_of(api_client(viewer).get(detail_url(graphic.pk)), 404, "not_found")


@pytest.mark.parametrize("where", ["body", "query"])
def test_delete_takes_a_reason_in_the_body_or_the_query(
    lock_admin: Any, graphic: Any, where: str
) -> None:
    """The reason may come as JSON or as ?reason=; either way it is checked (≤ 500 chars)."""
    client = api_client(lock_admin)
    too_long = "x" * 501
    if where == "body":
        rejected = client.delete(detail_url(graphic.pk), {"reason": too_long}, format="json")
        accepted = client.delete(detail_url(graphic.pk), {"reason": "Duplicate"}, format="json")
    else:
        rejected = client.delete(detail_url(graphic.pk) + f"?reason={too_long}")
        accepted = client.delete(detail_url(graphic.pk) + "?reason=Duplicate")

    assert list(error_of(rejected, 400, "validation_error")["details"]) == ["reason"]
    assert accepted.status_code == 204


def test_delete_while_someone_else_holds_the_lock_is_refused(
    lock_admin: Any, editor: Any, graphic: Any
) -> None:
    """Nobody deletes a graphic another user is editing."""
    lock_acquire(user=editor, graphic_id=graphic.pk)

    response = api_client(lock_admin).delete(detail_url(graphic.pk))

    assert error_of(response, 409, "lock_conflict")["details"]["locked_by"] == "editor"
    assert Graphic.objects.filter(pk=graphic.pk).exists()


def test_delete_with_my_own_lock_releases_it(lock_admin: Any, graphic: Any) -> None:
    """Deleting a graphic you hold the lock on works and leaves no lock behind."""
    lock_acquire(user=lock_admin, graphic_id=graphic.pk)

    assert api_client(lock_admin).delete(detail_url(graphic.pk)).status_code == 204
    assert not CanvasLock.objects.exists()


def test_delete_unknown_graphic_is_not_found(lock_admin: Any) -> None:
    """Deleting an id with no graphic is a 404."""
    error_of(api_client(lock_admin).delete(detail_url(999999)), 404, "not_found")


# --- archive / restore ----------------------------------------------------------------------


def test_archive_answers_the_archived_graphic(editor: Any, graphic: Any) -> None:
    """Archiving marks the graphic archived, by whom and when."""
    response = api_client(editor).post(
        detail_url(graphic.pk, "archive"), {"reason": "Week over"}, format="json"
    )

    assert response.status_code == 200
    graphic.refresh_from_db()
    assert response.json() == {**graphic_payload(graphic), "lock": lock_state(None)}
    assert response.json()["archived"] is True
    assert response.json()["archived_by"]["username"] == "editor"


def test_archive_without_a_body(editor: Any, graphic: Any) -> None:
    """The reason is optional; no body at all is fine."""
    response = api_client(editor).post(detail_url(graphic.pk, "archive"))

    assert response.status_code == 200
    assert response.json()["archived"] is True


def test_archive_releases_my_own_lock(editor: Any, graphic: Any) -> None:
    """Archiving a graphic you have locked releases your lock."""
    lock_acquire(user=editor, graphic_id=graphic.pk)

    response = api_client(editor).post(detail_url(graphic.pk, "archive"))

    assert response.json()["lock"]["locked"] is False
    assert not CanvasLock.objects.exists()


def test_archive_while_someone_else_holds_the_lock_is_refused(
    editor: Any, editor2: Any, graphic: Any
) -> None:
    """Nobody archives a graphic another user is editing."""
    lock_acquire(user=editor2, graphic_id=graphic.pk)

    response = api_client(editor).post(detail_url(graphic.pk, "archive"))

    assert error_of(response, 409, "lock_conflict")["details"]["locked_by"] == "editor2"
    graphic.refresh_from_db()
    assert graphic.archived is False


def test_archive_of_an_archived_graphic_is_a_state_conflict(editor: Any, graphic: Any) -> None:
    """Archiving twice is refused the second time."""
    client = api_client(editor)
    client.post(detail_url(graphic.pk, "archive"))

    error_of(client.post(detail_url(graphic.pk, "archive")), 409, "state_conflict")


def test_archive_reason_is_at_most_500_characters(editor: Any, graphic: Any) -> None:
    """A reason over 500 characters is a field error."""
    response = api_client(editor).post(
        detail_url(graphic.pk, "archive"), {"reason": "x" * 501}, format="json"
    )

    assert error_of(response, 400, "validation_error")["details"] == {
        "reason": ["Ensure this field has no more than 500 characters."]
    }


def test_restore_answers_the_active_graphic(editor: Any, graphic: Any) -> None:
    """Restoring brings an archived graphic back to the active list."""
    client = api_client(editor)
    client.post(detail_url(graphic.pk, "archive"))

    response = client.post(detail_url(graphic.pk, "restore"), {"reason": "Rerun"}, format="json")

    assert response.status_code == 200
    assert response.json()["archived"] is False
    assert response.json()["archived_at"] is None
    assert response.json()["archived_by"] is None
    assert [item["id"] for item in client.get(LIST_URL).json()["results"]] == [graphic.pk]


def test_restore_of_an_active_graphic_is_a_state_conflict(editor: Any, graphic: Any) -> None:
    """Only archived graphics can be restored."""
    error_of(api_client(editor).post(detail_url(graphic.pk, "restore")), 409, "state_conflict")


def test_archive_and_restore_of_unknown_graphic_are_not_found(editor: Any) -> None:
    """Archive and restore of an id with no graphic are 404s."""
    client = api_client(editor)

    error_of(client.post(detail_url(999999, "archive")), 404, "not_found")
    error_of(client.post(detail_url(999999, "restore")), 404, "not_found")


# --- duplicate ------------------------------------------------------------------------------


def test_duplicate_makes_an_active_copy_titled_copy(editor: Any, graphic: Any) -> None:
    """Duplicating answers 201 with a new graphic: same event and canvas, "(Copy)" title."""
    response = api_client(editor).post(detail_url(graphic.pk, "duplicate"))

    assert response.status_code == 201
    body = response.json()
    assert body["id"] != graphic.pk
    assert body["title"] == "Round 3 Scoreboard (Copy)"
    assert body["event_name"] == graphic.event_name
    assert body["data"] == graphic.data
    assert body["version"] == 1
    assert body["lock"] == lock_state(None)
    assert body == {**graphic_payload(Graphic.objects.get(pk=body["id"])), "lock": body["lock"]}


def test_duplicate_with_a_title(editor: Any, graphic: Any) -> None:
    """A title in the body names the copy."""
    response = api_client(editor).post(
        detail_url(graphic.pk, "duplicate"), {"title": "Round 4 Scoreboard"}, format="json"
    )

    assert response.json()["title"] == "Round 4 Scoreboard"


def test_duplicate_of_an_archived_graphic_is_active(editor: Any, graphic: Any) -> None:
    """The copy of an archived graphic starts active."""
    client = api_client(editor)
    client.post(detail_url(graphic.pk, "archive"))

    response = client.post(detail_url(graphic.pk, "duplicate"))

    assert response.status_code == 201
    assert response.json()["archived"] is False


def test_duplicate_rejects_a_bad_title(editor: Any, graphic: Any) -> None:
    """A title that is not a string is a field error."""
    response = api_client(editor).post(
        detail_url(graphic.pk, "duplicate"), {"title": 12}, format="json"
    )

    assert error_of(response, 400, "validation_error")["details"] == {
        "title": ["Must be a string."]
    }


def test_duplicate_unknown_graphic_is_not_found(editor: Any) -> None:
    """Duplicating an id with no graphic is a 404."""
    error_of(api_client(editor).post(detail_url(999999, "duplicate")), 404, "not_found")


# --- event names ----------------------------------------------------------------------------


def test_event_names_are_distinct_and_sorted(viewer: Any, editor: Any, make_graphic: Any) -> None:
    """The event list names each event once, alphabetically, archived graphics included."""
    from graphics.services import graphic_archive

    make_graphic(event_name="Week 2")
    make_graphic(event_name="Week 1")
    make_graphic(event_name="Week 2")
    graphic_archive(user=editor, graphic_id=make_graphic(event_name="Finals").pk)

    response = api_client(viewer).get("/api/graphics/events/")

    assert response.status_code == 200
    assert response.json() == ["Finals", "Week 1", "Week 2"]


def test_event_names_when_there_are_no_graphics(viewer: Any) -> None:
    """No graphics, no event names."""
    assert api_client(viewer).get("/api/graphics/events/").json() == []


def test_an_unknown_body_field_is_a_validation_error(editor: Any) -> None:
    """A misspelt field is refused by name rather than silently ignored, as over the WebSocket."""
    response = api_client(editor).post(
        "/api/graphics/", {"title": "T", "event_name": "E", "titel": "T"}, format="json"
    )
    assert error_of(response, 400, "validation_error")["details"] == {"titel": ["Unknown field."]}
    assert not Graphic.objects.exists()


@pytest.mark.parametrize("query", ["page_size=abc", "page_size=0", "page_size=5&page_size=6"])
def test_an_unreadable_page_size_is_a_validation_error(editor: Any, query: str) -> None:
    response = api_client(editor).get(f"/api/graphics/?{query}")
    assert list(error_of(response, 400, "validation_error")["details"]) == ["page_size"]


@pytest.mark.parametrize(
    "path", ["/api/graphics/0/", "/api/graphics/-1/lock/", "/api/graphics/" + "9" * 30 + "/"]
)
def test_an_id_that_cannot_exist_is_not_found(editor: Any, path: str) -> None:
    error_of(api_client(editor).get(path), 404, "not_found")


@pytest.mark.parametrize("query", ["q=%00", "event_name=a%00b"])
def test_search_text_the_database_cannot_take_is_a_validation_error(
    editor: Any, query: str
) -> None:
    """Found by the REST fuzzer: a NUL in `q` reached PostgreSQL and failed there (500)."""
    response = api_client(editor).get(f"/api/graphics/?{query}")
    error_of(response, 400, "validation_error")
