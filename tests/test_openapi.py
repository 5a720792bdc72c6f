"""The OpenAPI schema and the docs page: served, valid, and true to what the API answers."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import jsonschema
import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from locks.services import lock_acquire

pytestmark = pytest.mark.django_db

PATHS = {
    "/api/auth/token/",
    "/api/auth/token/refresh/",
    "/api/auth/token/verify/",
    "/api/auth/logout/",
    "/api/graphics/",
    "/api/uploads/backgrounds/",
    "/api/graphics/events/",
    "/api/graphics/{graphic_id}/",
    "/api/graphics/{graphic_id}/archive/",
    "/api/graphics/{graphic_id}/restore/",
    "/api/graphics/{graphic_id}/duplicate/",
    "/api/graphics/{graphic_id}/history/",
    "/api/graphics/{graphic_id}/history/{version}/",
    "/api/graphics/{graphic_id}/revert/",
    "/api/graphics/{graphic_id}/view-key/",
    "/api/graphics/{graphic_id}/take/",
    "/api/graphics/{graphic_id}/clear/",
    "/api/graphics/{graphic_id}/live/",
    "/api/graphics/{graphic_id}/air-log/",
    "/api/air-log/",
    "/api/graphics/{graphic_id}/lock/",
    "/api/graphics/{graphic_id}/lock/override/",
    "/api/locks/",
    "/api/events/",
    "/api/standings/events/",
    "/api/standings/events/{event_id}/",
    "/api/standings/events/{event_id}/standings/",
    "/api/standings/events/{event_id}/players/",
    "/api/standings/events/{event_id}/players/{player_id}/",
    "/api/standings/events/{event_id}/rounds/",
    "/api/standings/events/{event_id}/rounds/{number}/",
    "/api/standings/events/{event_id}/rounds/{number}/lobbies/{lobby}/",
    "/api/standings/events/{event_id}/changes/",
    "/api/standings/events/{event_id}/import/",
}


@pytest.fixture
def schema() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(response.content)
    return document


def api_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def assert_matches(schema: dict[str, Any], component: str, instance: Any) -> None:
    """`instance` is valid against components/schemas/`component` of the OpenAPI document."""
    jsonschema.validate(
        instance,
        {"$ref": f"#/components/schemas/{component}", "components": schema["components"]},
        cls=jsonschema.Draft202012Validator,
    )


def test_schema_is_public_yaml_by_default() -> None:
    """Anyone can fetch the schema; without a format it is OpenAPI 3.1 YAML."""
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    document = yaml.safe_load(response.content)
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "GAL Live API"
    assert set(document["paths"]) == PATHS


def test_schema_as_json_lists_every_endpoint(schema: dict[str, Any]) -> None:
    """?format=json gives the same document as JSON, with every API path and its methods."""
    assert set(schema["paths"]) == PATHS
    assert set(schema["paths"]["/api/graphics/{graphic_id}/"]) >= {"get", "patch", "delete"}
    assert set(schema["paths"]["/api/graphics/{graphic_id}/lock/"]) >= {"get", "post", "delete"}


def test_schema_documents_the_error_shape_on_every_failure(schema: dict[str, Any]) -> None:
    """Every documented 4xx response of our endpoints is the ErrorResponse shape."""
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("4") and path.startswith("/api/graphics"):
                    body = response["content"]["application/json"]["schema"]
                    assert body == {"$ref": "#/components/schemas/ErrorResponse"}, (
                        path,
                        method,
                        status,
                    )
                    checked += 1
    assert checked > 30
    assert set(schema["components"]["schemas"]["ErrorDetail"]["properties"]) == {
        "code",
        "message",
        "details",
    }


def test_schema_documents_the_bodies(schema: dict[str, Any]) -> None:
    """Requests and responses are described: the canvas by its real schema, the lock state,
    the list filters and the events endpoint."""
    components = schema["components"]["schemas"]
    graphic_path = schema["paths"]["/api/graphics/{graphic_id}/"]
    patch_body = graphic_path["patch"]["requestBody"]["content"]["application/json"]["schema"]
    list_parameters = {p["name"] for p in schema["paths"]["/api/graphics/"]["get"]["parameters"]}

    assert patch_body == {"$ref": "#/components/schemas/PatchedGraphicUpdateRequest"}
    assert components["PatchedGraphicUpdateRequest"]["required"] == ["fencing_token", "version"]
    assert components["Graphic"]["properties"]["data"] == {"$ref": "#/components/schemas/Canvas"}
    assert {"TextElement", "PlayersElement", "Background"} <= set(components)
    assert components["Graphic"]["properties"]["lock"] == {"$ref": "#/components/schemas/LockState"}
    assert list_parameters >= {"archived", "event_name", "q", "page", "page_size"}
    events = schema["paths"]["/api/graphics/events/"]["get"]
    assert "/api/graphics/events/" in events["description"]
    assert "jwtAuth" in schema["components"]["securitySchemes"]


def test_real_responses_match_the_documented_shapes(
    schema: dict[str, Any], editor: Any, editor2: Any, make_graphic: Any
) -> None:
    """What the API answers validates against the schema it publishes."""
    locked = make_graphic(by=editor)
    make_graphic(by=editor)
    lock_acquire(user=editor2, graphic_id=locked.pk)
    client = api_client(editor)

    assert_matches(schema, "Graphic", client.get(f"/api/graphics/{locked.pk}/").json())
    assert_matches(schema, "GraphicPage", client.get("/api/graphics/").json())
    assert_matches(schema, "LockState", client.get(f"/api/graphics/{locked.pk}/lock/").json())
    for item in client.get("/api/locks/").json():
        assert_matches(schema, "LiveLock", item)
    created = client.post("/api/graphics/", {"title": "T", "event_name": "E"}, format="json")
    assert_matches(schema, "Graphic", created.json())
    conflict = client.post(f"/api/graphics/{locked.pk}/lock/")
    assert_matches(schema, "ErrorResponse", conflict.json())
    for query in ("graphic=all", "graphic=all&since=0", f"graphic={locked.pk}&since=0"):
        assert_matches(schema, "EventPage", client.get(f"/api/events/?{query}").json())


def test_history_responses_match_the_documented_shapes(
    schema: dict[str, Any], editor: Any, make_graphic: Any
) -> None:
    """The history list, one version and a revert answer in their published shapes, and the
    revert body requires the version, the expected version and the fencing token."""
    graphic = make_graphic(by=editor)
    token = lock_acquire(user=editor, graphic_id=graphic.pk).fencing_token
    client = api_client(editor)
    client.patch(
        f"/api/graphics/{graphic.pk}/",
        {"version": 1, "fencing_token": token, "title": "New"},
        format="json",
    )

    reverted = client.post(
        f"/api/graphics/{graphic.pk}/revert/",
        {"version": 1, "expected_version": 2, "fencing_token": token},
        format="json",
    )
    assert reverted.status_code == 200
    assert_matches(schema, "Graphic", reverted.json())
    assert_matches(schema, "VersionPage", client.get(f"/api/graphics/{graphic.pk}/history/").json())
    assert_matches(
        schema, "GraphicVersion", client.get(f"/api/graphics/{graphic.pk}/history/3/").json()
    )
    revert = schema["paths"]["/api/graphics/{graphic_id}/revert/"]["post"]
    body = revert["requestBody"]["content"]["application/json"]["schema"]
    required = schema["components"]["schemas"][body["$ref"].split("/")[-1]]["required"]
    assert set(required) == {"version", "expected_version", "fencing_token"}


def test_schema_generation_has_no_warnings() -> None:
    """`manage.py spectacular --validate --fail-on-warn` passes."""
    out = io.StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)

    assert yaml.safe_load(out.getvalue())["openapi"] == "3.1.0"


def test_docs_page_serves_swagger_ui_from_our_static_files() -> None:
    """/api/docs/ is public and loads Swagger UI from the sidecar's static files, not a CDN."""
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn.jsdelivr.net" not in html
    # The start-up script (a file, for the CSP) points Swagger UI at our schema.
    script = APIClient().get("/api/docs/?script=").content.decode()
    assert "/api/schema/" in script


def test_docs_page_has_no_inline_style_or_script() -> None:
    """The Content-Security-Policy (style-src 'self', script-src 'self') would block either:
    drf-spectacular's inline <style> comes from a static file instead
    (gal_dashboard/templates/drf_spectacular/swagger_ui.html)."""
    html = APIClient().get("/api/docs/").content.decode()

    assert "<style" not in html
    assert "style=" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "dashboard/api-docs.css" in html
