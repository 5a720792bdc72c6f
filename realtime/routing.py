"""WebSocket routes."""

from django.urls import path

from realtime.connection.consumers import GraphicsConsumer

websocket_urlpatterns = [
    path("ws/graphics", GraphicsConsumer.as_asgi()),
]
