"""
`standings_changed`: sent by standings.services inside the transaction of every results change
(a lobby saved, a correction, an import, a player renamed, a points table changed...), so the
event log records it in that transaction and broadcasts it after commit (realtime.delivery.signals).

Arguments: `event_names`, the names whose bound graphics must redraw (the tournament's name;
both names for a rename); `action`, what happened (standings.services names them); `actor_id`.
"""

from django.dispatch import Signal

standings_changed = Signal()
