"""
Delivery: how a committed write becomes frames on the sockets of every server.

A service writes a model; a post-save signal (signals.py) records the change in the
event log (events.py) in the same transaction and, after commit, sends it through the
channel layer. The per-process hub (hub.py) receives it and delivers it to its local
sockets in `seq` order, filling gaps from the log and never twice, as frames encoded
once per audience (frames.py, redaction.py for view keys). Replay and snapshots
(replay.py, snapshots.py) let a client catch up; retention.py prunes the log; the
broadcast probe and lock housekeeping (broadcast_probe.py, housekeeping.py,
lock_notices.py) run beside the hub. The next step is realtime/connection/.
"""
