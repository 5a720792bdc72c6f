"""
What the REST views of every app share: the permission class that admits a request (reads need
`graphics.view_graphic`, writes a signed-in user and then their service's permission), the
base view, strict JSON object bodies, pagination, and the path and page parameters the schema
shows.

It lives here, under the project, so that each app's API (graphics, locks, standings, realtime)
builds on it without importing another app's API (README.md, "Layout").
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from gal_dashboard.access import VIEW_GRAPHIC, require_permission
from gal_dashboard.errors import ValidationFailed


class CanViewGraphics(BasePermission):
    """
    Reads need `graphics.view_graphic`; writes need a signed-in user here and are authorised by
    their service. Both go through `require_permission`, so a 401 or 403 from a read has the
    same code and details as one from a service.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            require_permission(request.user, VIEW_GRAPHIC)
        else:
            require_permission(request.user)
        return True


class GraphicPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    # A whole event's graphics fit in one page; more would make one response too heavy to send.
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        # DRF ignores a page_size it cannot read and answers the default page; a client that
        # asked for something else should learn its request was wrong instead.
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return int(self.page_size or 50)
        if len(values) > 1 or not values[0].isdigit() or int(values[0]) < 1:
            raise ValidationFailed(
                details={self.page_size_query_param: ["A whole number of at least 1, once."]}
            )
        return min(int(values[0]), self.max_page_size)


class GraphicsAPIView(APIView):
    permission_classes = [CanViewGraphics]


def request_object(request: Request, shape: type[serializers.Serializer]) -> dict[str, Any]:
    """The request's JSON object body ({} when there is no body), holding only fields of
    `shape` (the body's documented serializer): an unknown field is a validation_error naming
    it, as in WebSocket messages, rather than silently ignored (a typo would otherwise look
    like success)."""
    body = request.data
    if not isinstance(body, dict):
        raise ValidationFailed(
            "The request body must be a JSON object.",
            details={"non_field_errors": ["Expected a JSON object."]},
        )
    unknown = sorted(set(body) - set(shape().fields))
    if unknown:
        raise ValidationFailed(details={key: ["Unknown field."] for key in unknown})
    return body


POSITIVE_INT = {"type": "integer", "minimum": 1}
GRAPHIC_ID = OpenApiParameter("graphic_id", POSITIVE_INT, OpenApiParameter.PATH)
PAGE_PARAMETERS = [
    OpenApiParameter("page", POSITIVE_INT, description="1-based page number."),
    OpenApiParameter(
        "page_size",
        POSITIVE_INT,
        description=f"Default 50; more than {GraphicPagination.max_page_size} gives "
        f"{GraphicPagination.max_page_size}.",
    ),
]
