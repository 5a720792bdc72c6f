"""
The canvas-lock REST API: a graphic's lock (status, acquire-or-refresh, release), the override
for lock admins, and the list of live locks.

Each write calls one function of `locks.services`; every answer carries a lock as
`locks.selectors.lock_state` shapes it, the same as in graphics and WebSocket messages.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from gal_dashboard.api_errors import error_responses
from gal_dashboard.api_views import GRAPHIC_ID, GraphicsAPIView, request_object
from graphics.selectors import graphic_get
from locks.api_serializers import LiveLockSerializer, LockOverrideSerializer, LockStateSerializer
from locks.selectors import lock_live, lock_state, locks_live
from locks.services import lock_acquire, lock_override, lock_release

TAG = "locks"


class GraphicLockView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="A graphic's lock",
        parameters=[GRAPHIC_ID],
        responses={200: LockStateSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, graphic_id: int) -> Response:
        graphic = graphic_get(graphic_id=graphic_id)
        return Response(lock_state(lock_live(graphic_id=graphic.pk)))

    @extend_schema(
        tags=[TAG],
        summary="Acquire or refresh a graphic's lock",
        description=(
            "Takes the lock, or extends it if you hold it already (call this again before "
            "expires_at to keep it). lock_conflict names the holder and expiry if it is taken."
        ),
        parameters=[GRAPHIC_ID],
        request=None,
        responses={200: LockStateSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        lock = lock_acquire(user=request.user, graphic_id=graphic_id)
        return Response(lock_state(lock))

    @extend_schema(
        tags=[TAG],
        summary="Release a graphic's lock",
        description=(
            "204 also when nobody holds it, so a page can release on close without checking; "
            "lock_conflict if someone else holds it."
        ),
        parameters=[GRAPHIC_ID],
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request: Request, graphic_id: int) -> Response:
        lock_release(user=request.user, graphic_id=graphic_id)
        return Response(status=204)


class GraphicLockOverrideView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Override another user's lock",
        description=(
            "Needs locks.override_lock (Lock admin) and a reason, which the audit keeps with "
            "the previous holder. Answers with the lock afterwards: yours with take_over, free "
            "without. state_conflict if the graphic is not locked."
        ),
        parameters=[GRAPHIC_ID],
        request=LockOverrideSerializer,
        responses={200: LockStateSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, LockOverrideSerializer)
        # The service refuses a take_over that is not a JSON boolean ("false" is truthy), as it
        # does for the same message over the WebSocket.
        lock = lock_override(
            user=request.user,
            graphic_id=graphic_id,
            reason=body.get("reason"),
            take_over=body.get("take_over", False),
        )
        return Response(lock_state(lock))


class LockListView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Live locks",
        description="Every lock that has not expired, soonest expiry first.",
        responses={
            200: OpenApiResponse(LiveLockSerializer(many=True)),
            **error_responses(401, 403),
        },
    )
    def get(self, request: Request) -> Response:
        # The canvas is not shown here; leaving it out keeps this cheap however big it is.
        locks = locks_live().defer("graphic__data")
        return Response(
            [
                {
                    "graphic_id": lock.graphic_id,
                    "graphic_title": lock.graphic.title,
                    "lock": lock_state(lock),
                }
                for lock in locks
            ]
        )
