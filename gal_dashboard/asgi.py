"""
ASGI entry point: HTTP through Django; WebSockets at /ws/graphics behind the origin check and
token-or-session authentication (realtime.connection.auth).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gal_dashboard.settings")
# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime.connection.auth import websocket_auth_stack  # noqa: E402
from realtime.delivery.hub import StartHubMiddleware  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = StartHubMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": websocket_auth_stack(URLRouter(websocket_urlpatterns)),
        }
    )
)
