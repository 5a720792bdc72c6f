"""Overlay view keys: the services that make and revoke them, the database's one-active-key rule,
the selectors that authenticate them, the REST endpoint for each role and the admin actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from gal_dashboard.errors import NotAuthenticated, NotFound, PermissionDenied
from graphics.models import Graphic, GraphicViewKey
from graphics.selectors import (
    overlay_url,
    view_key_active,
    view_key_authenticate,
    view_keys_active_among,
)
from graphics.services import graphic_archive, graphic_delete, view_key_revoke, view_key_rotate
from tests.conftest import error_of

pytestmark = pytest.mark.django_db

VIEW_KEY_URL = "/api/graphics/{id}/view-key/"


def api_client(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def keys_of(graphic: Any) -> list[tuple[str, bool]]:
    """(key, active) of each of the graphic's keys, oldest first."""
    return [
        (view_key.key, view_key.revoked_at is None)
        for view_key in GraphicViewKey.objects.filter(graphic=graphic).order_by("pk")
    ]


# --- services -----------------------------------------------------------------------------------


def test_rotate_makes_an_unguessable_key_attributed_to_the_editor(editor: Any, graphic: Any):
    """A new key is 43 URL-safe characters from the system's random source (256 bits), active,
    made by the editor, and different every time."""
    first = view_key_rotate(graphic_id=graphic.pk, user=editor)
    second = view_key_rotate(graphic_id=graphic.pk, user=editor)

    for view_key in (first, second):
        assert len(view_key.key) == 43
        assert set(view_key.key) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
        assert view_key.created_by == editor
        assert view_key.created_at is not None
    assert first.key != second.key


def test_rotate_revokes_the_active_key_and_records_who(editor: Any, editor2: Any, graphic: Any):
    """Rotating leaves exactly one active key, the new one; the old one is revoked, by whom and
    when, and kept."""
    old = view_key_rotate(graphic_id=graphic.pk, user=editor)

    new = view_key_rotate(graphic_id=graphic.pk, user=editor2)

    old.refresh_from_db()
    assert old.revoked_at is not None
    assert old.revoked_by == editor2
    assert new.revoked_at is None
    assert keys_of(graphic) == [(old.key, False), (new.key, True)]
    assert view_key_active(graphic_id=graphic.pk) == new


def test_revoke_revokes_the_active_key_and_says_whether_there_was_one(editor: Any, graphic: Any):
    """Revoking answers True and leaves no active key; revoking again, or a graphic that never
    had a key, answers False and changes nothing."""
    assert view_key_revoke(graphic_id=graphic.pk, user=editor) is False
    view_key = view_key_rotate(graphic_id=graphic.pk, user=editor)

    assert view_key_revoke(graphic_id=graphic.pk, user=editor) is True
    assert view_key_revoke(graphic_id=graphic.pk, user=editor) is False

    view_key.refresh_from_db()
    assert view_key.revoked_by == editor
    assert view_key_active(graphic_id=graphic.pk) is None


def test_revoke_of_one_named_key_never_revokes_a_newer_one(editor: Any, graphic: Any):
    """With view_key_id, only that key is revoked: an operator revoking the row they saw does
    not kill the key a colleague made since."""
    old = view_key_rotate(graphic_id=graphic.pk, user=editor)
    new = view_key_rotate(graphic_id=graphic.pk, user=editor)

    assert view_key_revoke(graphic_id=graphic.pk, user=editor, view_key_id=old.pk) is False
    assert view_key_active(graphic_id=graphic.pk) == new
    assert view_key_revoke(graphic_id=graphic.pk, user=editor, view_key_id=new.pk) is True
    assert view_key_active(graphic_id=graphic.pk) is None


def test_archived_graphics_may_have_a_key(editor: Any, graphic: Any):
    """An overlay may be set up before a graphic goes on air again."""
    graphic_archive(user=editor, graphic_id=graphic.pk)

    view_key = view_key_rotate(graphic_id=graphic.pk, user=editor)

    assert view_key_authenticate(key=view_key.key) == view_key


@pytest.mark.parametrize("service", [view_key_rotate, view_key_revoke])
def test_only_editors_make_or_revoke_keys(
    service: Any, viewer: Any, no_role_user: Any, editor: Any, graphic: Any
):
    """Viewers and users without a role get permission_denied naming the Editor permission,
    anonymous callers not_authenticated; nothing changes."""
    existing = view_key_rotate(graphic_id=graphic.pk, user=editor)

    for user in (viewer, no_role_user):
        with pytest.raises(PermissionDenied) as refused:
            service(graphic_id=graphic.pk, user=user)
        assert refused.value.details == {"required": ["graphics.change_graphic"]}
    with pytest.raises(NotAuthenticated):
        service(graphic_id=graphic.pk, user=None)

    assert keys_of(graphic) == [(existing.key, True)]


@pytest.mark.parametrize("service", [view_key_rotate, view_key_revoke])
def test_an_unknown_graphic_is_not_found(service: Any, editor: Any):
    with pytest.raises(NotFound):
        service(graphic_id=987654, user=editor)
    assert not GraphicViewKey.objects.exists()


def test_deleting_the_graphic_deletes_its_keys(lock_admin: Any, editor: Any, graphic: Any):
    view_key = view_key_rotate(graphic_id=graphic.pk, user=editor)

    graphic_delete(user=lock_admin, graphic_id=graphic.pk)

    assert view_key_authenticate(key=view_key.key) is None
    assert not GraphicViewKey.objects.exists()


# --- the database keeps the invariant -----------------------------------------------------------


def test_the_database_refuses_a_second_active_key_for_a_graphic(editor: Any, graphic: Any):
    """Whatever code writes (a shell, a race between servers), a graphic has at most one active
    key; revoked ones may be many, and other graphics are unaffected."""
    view_key_rotate(graphic_id=graphic.pk, user=editor)

    with pytest.raises(IntegrityError), transaction.atomic():
        GraphicViewKey.objects.create(graphic=graphic, created_by=editor)

    view_key_rotate(graphic_id=graphic.pk, user=editor)
    assert [active for _, active in keys_of(graphic)] == [False, True]


def test_the_database_refuses_a_duplicate_or_empty_key(editor: Any, make_graphic: Any):
    first, second = make_graphic(), make_graphic()
    taken = view_key_rotate(graphic_id=first.pk, user=editor)

    with pytest.raises(IntegrityError), transaction.atomic():
        GraphicViewKey.objects.create(graphic=second, key=taken.key)
    with pytest.raises(IntegrityError), transaction.atomic():
        GraphicViewKey.objects.create(graphic=second, key="")


# --- selectors ----------------------------------------------------------------------------------


def test_authenticate_accepts_exactly_the_active_key(editor: Any, graphic: Any):
    """Only the active key's exact value authenticates: not a revoked key, not the key in
    another case, with a character more or less, or surrounded by spaces."""
    revoked = view_key_rotate(graphic_id=graphic.pk, user=editor)
    active = view_key_rotate(graphic_id=graphic.pk, user=editor)

    assert view_key_authenticate(key=active.key) == active
    assert view_key_authenticate(key=revoked.key) is None
    for variant in (
        active.key.swapcase(),
        active.key[:-1],
        active.key + "A",
        f" {active.key}",
        f"{active.key}\n",
    ):
        assert view_key_authenticate(key=variant) is None, variant


@pytest.mark.parametrize(
    "garbage",
    [None, 42, b"bytes", ["list"], {"key": "x"}, "", "x" * 65, "x" * 100_000, "a\x00b",
     "ключ", "%"],
    ids=["none", "int", "bytes", "list", "dict", "empty", "oversized", "huge", "nul", "non-ascii",
         "percent"],
)  # fmt: skip
def test_authenticate_answers_none_for_anything_that_is_not_a_key(garbage: Any, graphic: Any):
    """No exception, no query that could fail (a NUL breaks PostgreSQL): just None."""
    assert view_key_authenticate(key=garbage) is None


def test_active_among_names_the_keys_still_active(editor: Any, make_graphic: Any):
    first, second = make_graphic(), make_graphic()
    revoked = view_key_rotate(graphic_id=first.pk, user=editor)
    kept = view_key_rotate(graphic_id=second.pk, user=editor)
    view_key_revoke(graphic_id=first.pk, user=editor)

    assert view_keys_active_among([revoked.pk, kept.pk, 999999]) == {kept.pk}
    assert view_keys_active_among([]) == set()


def test_the_overlay_url_names_the_graphic_and_the_urlencoded_key():
    assert overlay_url(7, "abc_DEF-123") == "/overlay/7/?key=abc_DEF-123"
    # Keys are URL-safe by construction; anything else is still encoded, never injected.
    url = overlay_url(7, "a b&c=d")
    assert url == "/overlay/7/?key=a+b%26c%3Dd"
    assert parse_qs(urlsplit(url).query) == {"key": ["a b&c=d"]}


# --- REST: GET|POST|DELETE /api/graphics/{id}/view-key/ -------------------------------------------


ROLES = ("anonymous", "no_role", "viewer", "editor", "lock_admin", "superuser")


def actor_for(role: str, request: Any) -> Any:
    if role == "anonymous":
        return None
    return request.getfixturevalue(
        {"no_role": "no_role_user", "superuser": "superuser"}.get(role, role)
    )


@pytest.mark.parametrize(
    ("role", "status"),
    list(zip(ROLES, (401, 403, 200, 200, 200, 200), strict=True)),
)
def test_reading_the_key_needs_the_view_permission(
    role: str, status: int, request: Any, editor: Any, graphic: Any
):
    """Anyone who may view graphics reads the active key, with its overlay URL and who made it
    when; others get 401 or 403 in the error shape."""
    view_key = view_key_rotate(graphic_id=graphic.pk, user=editor)

    response = api_client(actor_for(role, request)).get(VIEW_KEY_URL.format(id=graphic.pk))

    assert response.status_code == status, response.content
    if status == 200:
        assert response.json() == {
            "graphic_id": graphic.pk,
            "view_key": {
                "key": view_key.key,
                "overlay_url": f"/overlay/{graphic.pk}/?key={view_key.key}",
                "created_at": view_key.created_at.isoformat().replace("+00:00", "Z"),
                "created_by": {"id": editor.pk, "username": "editor"},
            },
        }
    else:
        error_of(response, status, "not_authenticated" if status == 401 else "permission_denied")


def test_a_graphic_without_a_key_reads_null(viewer: Any, graphic: Any):
    response = api_client(viewer).get(VIEW_KEY_URL.format(id=graphic.pk))

    assert response.status_code == 200
    assert response.json() == {"graphic_id": graphic.pk, "view_key": None}


@pytest.mark.parametrize(
    ("role", "status"),
    list(zip(ROLES, (401, 403, 403, 201, 201, 201), strict=True)),
)
def test_making_a_key_needs_the_editor_role(
    role: str, status: int, request: Any, editor2: Any, graphic: Any
):
    """POST makes a new key (201, in GET's shape) and revokes the old one; refused requests
    change nothing."""
    old = view_key_rotate(graphic_id=graphic.pk, user=editor2)
    actor = actor_for(role, request)

    response = api_client(actor).post(VIEW_KEY_URL.format(id=graphic.pk))

    assert response.status_code == status, response.content
    if status == 201:
        body = response.json()
        new = view_key_active(graphic_id=graphic.pk)
        assert new is not None and new.key != old.key
        assert body["graphic_id"] == graphic.pk
        assert body["view_key"]["key"] == new.key
        assert body["view_key"]["overlay_url"] == overlay_url(graphic.pk, new.key)
        assert body["view_key"]["created_by"] == {"id": actor.pk, "username": actor.username}
        assert keys_of(graphic) == [(old.key, False), (new.key, True)]
    else:
        error_of(response, status, "not_authenticated" if status == 401 else "permission_denied")
        assert keys_of(graphic) == [(old.key, True)]


@pytest.mark.parametrize(
    ("role", "status"),
    list(zip(ROLES, (401, 403, 403, 200, 200, 200), strict=True)),
)
def test_revoking_the_key_needs_the_editor_role(
    role: str, status: int, request: Any, editor2: Any, graphic: Any
):
    """DELETE revokes the active key ({"graphic_id", "revoked": true}); refused requests change
    nothing."""
    view_key = view_key_rotate(graphic_id=graphic.pk, user=editor2)

    response = api_client(actor_for(role, request)).delete(VIEW_KEY_URL.format(id=graphic.pk))

    assert response.status_code == status, response.content
    if status == 200:
        assert response.json() == {"graphic_id": graphic.pk, "revoked": True}
        assert keys_of(graphic) == [(view_key.key, False)]
    else:
        error_of(response, status, "not_authenticated" if status == 401 else "permission_denied")
        assert keys_of(graphic) == [(view_key.key, True)]


def test_revoking_without_an_active_key_says_so(editor: Any, graphic: Any):
    response = api_client(editor).delete(VIEW_KEY_URL.format(id=graphic.pk))

    assert response.status_code == 200
    assert response.json() == {"graphic_id": graphic.pk, "revoked": False}


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_graphic_is_404_not_found(method: str, editor: Any):
    response = getattr(api_client(editor), method)(VIEW_KEY_URL.format(id=987654))

    error_of(response, 404, "not_found")
    assert not GraphicViewKey.objects.exists()


def test_the_url_is_named_for_the_dashboard(graphic: Any):
    assert reverse("api:graphic-view-key", args=[graphic.pk]) == VIEW_KEY_URL.format(id=graphic.pk)


def test_a_view_key_authenticates_nothing_on_the_rest_of_the_api(editor: Any, graphic: Any):
    """?key= is read by GET /api/events/ only: on every other endpoint, reads included, the
    request is as anonymous as without it."""
    view_key = view_key_rotate(graphic_id=graphic.pk, user=editor)
    client = APIClient()

    for path in (
        f"/api/graphics/{graphic.pk}/",
        "/api/graphics/",
        f"/api/graphics/{graphic.pk}/lock/",
        f"/api/graphics/{graphic.pk}/history/",
        VIEW_KEY_URL.format(id=graphic.pk),
    ):
        error_of(client.get(f"{path}?key={view_key.key}"), 401, "not_authenticated")
    response = client.post(f"{VIEW_KEY_URL.format(id=graphic.pk)}?key={view_key.key}")
    error_of(response, 401, "not_authenticated")
    assert keys_of(graphic) == [(view_key.key, True)]


def test_the_documented_shapes_match_the_answers(editor: Any, graphic: Any):
    """GET, POST and DELETE answer in the shapes the OpenAPI schema publishes."""
    import jsonschema

    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    def check(component: str, instance: Any) -> None:
        jsonschema.validate(
            instance,
            {"$ref": f"#/components/schemas/{component}", "components": schema["components"]},
            cls=jsonschema.Draft202012Validator,
        )

    client = api_client(editor)
    url = VIEW_KEY_URL.format(id=graphic.pk)
    check("GraphicViewKey", client.get(url).json())
    check("GraphicViewKey", client.post(url).json())
    check("GraphicViewKey", client.get(url).json())
    check("ViewKeyRevoked", client.delete(url).json())
    operations = schema["paths"]["/api/graphics/{graphic_id}/view-key/"]
    assert set(operations) >= {"get", "post", "delete"}
    assert set(operations["post"]["responses"]) == {"201", "401", "403", "404"}


# --- the admin ----------------------------------------------------------------------------------


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def staff_editor(editor: Any) -> Any:
    editor.is_staff = True
    editor.save(update_fields=["is_staff"])
    return editor


@pytest.fixture
def staff_viewer(viewer: Any) -> Any:
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    return viewer


def test_the_graphic_admin_action_makes_a_new_key_and_shows_its_url(
    client: Any, staff_editor: Any, editor2: Any, make_graphic: Any
):
    """ "Create a new overlay view key" rotates each selected graphic's key through the service
    (revoking the old one) and shows each new overlay URL to copy into OBS."""
    first, second = make_graphic(title="Standings"), make_graphic(title="Bracket")
    old = view_key_rotate(graphic_id=first.pk, user=editor2)
    client.force_login(staff_editor)

    response = client.post(
        reverse("admin:graphics_graphic_changelist"),
        {"action": "rotate_view_keys", "_selected_action": [first.pk, second.pk]},
    )

    assert response.status_code == 302
    new_first = view_key_active(graphic_id=first.pk)
    new_second = view_key_active(graphic_id=second.pk)
    assert new_first is not None and new_second is not None
    assert new_first.key != old.key and new_first.created_by == staff_editor
    assert [active for _, active in keys_of(first)] == [False, True]
    shown = messages_of(response)
    assert any("Made a new overlay view key for 2 graphics" in message for message in shown)
    assert any(overlay_url(first.pk, new_first.key) in message for message in shown)
    assert any(overlay_url(second.pk, new_second.key) in message for message in shown)


def test_the_graphic_admin_action_is_refused_for_a_viewer(
    client: Any, staff_viewer: Any, graphic: Any
):
    client.force_login(staff_viewer)

    response = client.post(
        reverse("admin:graphics_graphic_changelist"),
        {"action": "rotate_view_keys", "_selected_action": [graphic.pk]},
    )

    assert response.status_code == 302
    assert any("Could not make a view key for" in message for message in messages_of(response))
    assert not GraphicViewKey.objects.exists()


def test_the_view_key_admin_lists_searches_and_shows_the_key_read_only(
    client: Any, superuser: Any, editor: Any, make_graphic: Any
):
    """The list shows each key's graphic, creation, creator and revocation; search finds keys
    by graphic title; the detail page shows the key and its overlay URL, with no Save button
    and no way to add or delete a key by hand."""
    standings = make_graphic(title="Week 2 Standings")
    bracket = make_graphic(title="Top 8 Bracket")
    view_key = view_key_rotate(graphic_id=standings.pk, user=editor)
    view_key_rotate(graphic_id=bracket.pk, user=editor)
    client.force_login(superuser)
    changelist = reverse("admin:graphics_graphicviewkey_changelist")

    listed = client.get(changelist)
    searched = client.get(changelist, {"q": "standings"})
    detail = client.get(reverse("admin:graphics_graphicviewkey_change", args=[view_key.pk]))

    assert listed.status_code == 200
    assert "Week 2 Standings" in listed.text and "Top 8 Bracket" in listed.text
    assert "field-created_by" in listed.text and "field-revoked_at" in listed.text
    assert "Week 2 Standings" in searched.text and "Top 8 Bracket" not in searched.text
    assert detail.status_code == 200
    assert view_key.key in detail.text
    assert overlay_url(standings.pk, view_key.key).replace("&", "&amp;") in detail.text
    assert 'name="_save"' not in detail.text
    assert client.get(reverse("admin:graphics_graphicviewkey_add")).status_code == 403
    delete = reverse("admin:graphics_graphicviewkey_delete", args=[view_key.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert GraphicViewKey.objects.filter(pk=view_key.pk, revoked_at__isnull=True).exists()


def test_the_revoke_action_revokes_through_the_service(
    client: Any, staff_editor: Any, make_graphic: Any
):
    """ "Revoke selected view keys" revokes each selected active key; a key already revoked is
    reported as such and left alone, never mistaken for the graphic's newer key."""
    first, second = make_graphic(title="Standings"), make_graphic(title="Bracket")
    stale = view_key_rotate(graphic_id=first.pk, user=staff_editor)
    newer = view_key_rotate(graphic_id=first.pk, user=staff_editor)
    other = view_key_rotate(graphic_id=second.pk, user=staff_editor)
    client.force_login(staff_editor)

    response = client.post(
        reverse("admin:graphics_graphicviewkey_changelist"),
        {"action": "revoke_selected", "_selected_action": [stale.pk, other.pk]},
    )

    assert response.status_code == 302
    assert view_key_active(graphic_id=first.pk) == newer
    assert view_key_active(graphic_id=second.pk) is None
    other.refresh_from_db()
    assert other.revoked_by == staff_editor
    shown = messages_of(response)
    assert any("already revoked" in message for message in shown)
    assert any("Revoked 1 view key" in message for message in shown)


def test_the_revoke_action_is_refused_for_a_viewer(
    client: Any, staff_viewer: Any, editor: Any, graphic: Any
):
    """A staff Viewer sees the keys but the service refuses to revoke: the key stays active
    and the refusal is reported."""
    view_key = view_key_rotate(graphic_id=graphic.pk, user=editor)
    client.force_login(staff_viewer)

    response = client.post(
        reverse("admin:graphics_graphicviewkey_changelist"),
        {"action": "revoke_selected", "_selected_action": [view_key.pk]},
    )

    assert response.status_code == 302
    assert view_key_active(graphic_id=graphic.pk) == view_key
    assert any("Could not revoke" in message for message in messages_of(response))


def test_the_graphic_page_shows_its_overlay_url(client: Any, superuser: Any, editor: Any):
    graphic = Graphic.objects.create(title="Lobby", event_name="Week 2", created_by=editor)
    change = reverse("admin:graphics_graphic_change", args=[graphic.pk])
    client.force_login(superuser)
    assert "None: use the action" in client.get(change).text

    view_key = view_key_rotate(graphic_id=graphic.pk, user=editor)

    assert overlay_url(graphic.pk, view_key.key) in client.get(change).text
