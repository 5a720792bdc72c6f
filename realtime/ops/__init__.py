"""
Operations: what staff and operators see of a change's journey from a write to a
screen, and their hand on it.

Metrics and access logs (observability.py), one log line per Redis outage
(redis_outage.py), the cross-server connection registry (registry.py), the recent
errors (recent_errors.py), the staff connections page (views.py) and its disconnect
service (services.py). Every other sub-package reports here; nothing here delivers.
"""
