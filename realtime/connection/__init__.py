"""
Connection: the edge where a screen meets the server, the last step of a change's
journey from a write to a screen.

The WebSocket consumer (consumers.py) adapts ASGI to a connection's session (session.py:
admission, identity, subscriptions (subscription.py), one close) and its handler table
(handlers.py: one function per client message type); auth.py,
network.py and limits.py decide who may connect and how much; outbox.py queues what the hub
(realtime/delivery/) hands over, in the wire format of realtime/protocol.py, with batches and
control-frame priority (batching.py); supervisor.py keeps connections alive, admitted and counted.
api.py is the same journey's end for clients that poll instead of holding a socket.
"""
