"""One error shape for every failed API request, and bodies that must never cause a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from gal_dashboard.api_errors import api_exception_handler
from gal_dashboard.errors import VersionConflict
from graphics.models import Graphic
from locks.services import lock_acquire
from tests.conftest import error_of, text_element, valid_canvas

pytestmark = pytest.mark.django_db


def api_client(user: Any = None) -> APIClient:
    """A client that authenticates as `user` with a real access token (anonymous for None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@pytest.fixture
def world(viewer: Any, editor: Any, editor2: Any, graphic: Any, settings: Any) -> dict[str, Any]:
    settings.GRAPHIC_DATA_MAX_BYTES = 2048
    return {"viewer": viewer, "editor": editor, "editor2": editor2, "graphic": graphic}


def _validation(w: dict[str, Any]) -> Any:
    return api_client(w["editor"]).post("/api/graphics/", {"title": ""}, format="json")


def _invalid_json(w: dict[str, Any]) -> Any:
    return api_client(w["editor"]).post("/api/graphics/", "{]", content_type="application/json")


def _not_authenticated(w: dict[str, Any]) -> Any:
    return api_client().get("/api/graphics/")


def _bad_token(w: dict[str, Any]) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer abc.def.ghi")
    return client.get("/api/graphics/")


def _permission_denied(w: dict[str, Any]) -> Any:
    return api_client(w["viewer"]).post("/api/graphics/", {"title": "T"}, format="json")


def _not_found(w: dict[str, Any]) -> Any:
    return api_client(w["viewer"]).get("/api/graphics/424242/")


def _unknown_url(w: dict[str, Any]) -> Any:
    return api_client(w["viewer"]).get("/api/nothing-here/")


def _method_not_allowed(w: dict[str, Any]) -> Any:
    return api_client(w["editor"]).put("/api/graphics/", {}, format="json")


def _lock_conflict(w: dict[str, Any]) -> Any:
    lock_acquire(user=w["editor2"], graphic_id=w["graphic"].pk)
    return api_client(w["editor"]).post(f"/api/graphics/{w['graphic'].pk}/lock/")


def _version_conflict(w: dict[str, Any]) -> Any:
    lock = lock_acquire(user=w["editor"], graphic_id=w["graphic"].pk)
    return api_client(w["editor"]).patch(
        f"/api/graphics/{w['graphic'].pk}/",
        {"version": 7, "fencing_token": lock.fencing_token, "title": "X"},
        format="json",
    )


def _state_conflict(w: dict[str, Any]) -> Any:
    return api_client(w["editor"]).post(f"/api/graphics/{w['graphic'].pk}/restore/")


def _too_large(w: dict[str, Any]) -> Any:
    canvas = valid_canvas(elements=[text_element(content="x" * 3000)])
    return api_client(w["editor"]).post(
        "/api/graphics/", {"title": "T", "event_name": "E", "data": canvas}, format="json"
    )


def _unsupported_media_type(w: dict[str, Any]) -> Any:
    return api_client(w["editor"]).post("/api/graphics/", {"title": "T", "event_name": "E"})


FAILURES: list[tuple[str, Callable[[dict[str, Any]], Any], int]] = [
    ("validation_error", _validation, 400),
    ("invalid_json", _invalid_json, 400),
    ("not_authenticated", _not_authenticated, 401),
    ("not_authenticated", _bad_token, 401),
    ("permission_denied", _permission_denied, 403),
    ("not_found", _not_found, 404),
    ("not_found", _unknown_url, 404),
    ("method_not_allowed", _method_not_allowed, 405),
    ("lock_conflict", _lock_conflict, 409),
    ("version_conflict", _version_conflict, 409),
    ("state_conflict", _state_conflict, 409),
    ("too_large", _too_large, 413),
    ("unsupported_media_type", _unsupported_media_type, 415),
]


@pytest.mark.parametrize(
    ("code", "make_request", "status"),
    [pytest.param(*case, id=f"{case[0]}-{case[1].__name__.strip('_')}") for case in FAILURES],
)
def test_every_failure_has_the_same_shape(
    world: dict[str, Any], code: str, make_request: Callable[..., Any], status: int
) -> None:
    """Whatever fails, the body is exactly {"error": {"code", "message", "details"}} as JSON,
    with the status that goes with the code."""
    error_of(make_request(world), status, code)


def test_validation_details_map_each_field_to_its_messages(editor: Any) -> None:
    """validation_error details are field name -> list of messages, like DRF's."""
    response = api_client(editor).post(
        "/api/graphics/", {"title": "T", "event_name": 12}, format="json"
    )

    assert error_of(response, 400, "validation_error")["details"] == {
        "event_name": ["Must be a string."]
    }


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("", id="empty-with-content-length-0"),
        pytest.param("{'title': 'T'}", id="single-quotes"),
        pytest.param('{"title": "T",}', id="trailing-comma"),
        pytest.param('{"title": NaN}', id="nan"),
        pytest.param("\xff\xfe", id="not-utf8"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="nested-too-deep"),
    ],
)
def test_malformed_bodies_are_invalid_json_never_500(editor: Any, body: str) -> None:
    """Any body that is not valid JSON answers 400 invalid_json (an empty body is no body)."""
    response = api_client(editor).post(
        "/api/graphics/", body.encode("latin-1"), content_type="application/json"
    )

    if body == "":
        error_of(response, 400, "validation_error")
    else:
        error_of(response, 400, "invalid_json")
    assert not Graphic.objects.exists()


def test_a_body_over_the_upload_limit_is_too_large(editor: Any, settings: Any) -> None:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 too_large."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = {"title": "T", "event_name": "E", "data": {"padding": "x" * 5000}}

    response = api_client(editor).post("/api/graphics/", body, format="json")

    error = error_of(response, 413, "too_large")
    assert "4096" in error["message"]
    assert error["details"] == {"body": ["Must be at most 4096 bytes."]}
    assert not Graphic.objects.exists()


def test_unknown_url_under_api_is_a_json_404() -> None:
    """Unknown URLs under /api/ answer 404 not_found as JSON, for any method, without auth."""
    client = APIClient(enforce_csrf_checks=True)

    error_of(client.get("/api/graphics/abc/"), 404, "not_found")
    error_of(client.post("/api/no/such/thing/", {}, format="json"), 404, "not_found")


def test_a_missing_trailing_slash_is_pointed_out() -> None:
    """A 404 for a URL that only lacks its trailing slash says which URL was meant."""
    error = error_of(APIClient().get("/api/graphics"), 404, "not_found")

    assert "Did you mean /api/graphics/?" in error["message"]


def test_a_deactivated_user_is_not_authenticated(viewer: Any) -> None:
    """A session or forced login of a deactivated user is a 401 with a challenge."""
    viewer.is_active = False
    viewer.save()
    client = APIClient()
    client.force_authenticate(viewer)

    response = client.get("/api/graphics/")

    error_of(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_handler_converts_domain_and_django_errors() -> None:
    """The handler maps domain errors with their details, Django's Http404 and
    PermissionDenied, and leaves unexpected exceptions to Django (a 500)."""
    conflict = api_exception_handler(
        VersionConflict(details={"current_version": 3, "your_version": 2}), {}
    )
    not_found = api_exception_handler(Http404("No such page."), {})
    denied = api_exception_handler(DjangoPermissionDenied("Nope."), {})

    assert conflict is not None and conflict.status_code == 409
    assert conflict.data == {
        "error": {
            "code": "version_conflict",
            "message": VersionConflict.default_message,
            "details": {"current_version": 3, "your_version": 2},
        }
    }
    assert not_found is not None and not_found.status_code == 404
    assert not_found.data == {
        "error": {"code": "not_found", "message": "No such page.", "details": {}}
    }
    assert denied is not None and denied.status_code == 403
    assert denied.data["error"]["code"] == "permission_denied"
    assert api_exception_handler(RuntimeError("boom"), {}) is None
