"""
Delivery: how a committed write becomes frames on the sockets of every server.

A service writes a model; a post-save signal (signals.py) records the change in the
event log (events.py) in the same transaction and, after commit, sends it through the
channel layer to the graphic's group `graphic.<id>` and the list group `graphics.list`.
The per-process hub (hub.py) is the member of the groups its sockets watch (groups.py),
receives each event once and delivers it to its local sockets (member.py) in `seq` order,
filling gaps from the log and never twice, as frames encoded once per audience (frames.py,
redaction.py for view keys). Replay and snapshots (replay.py, snapshots.py) let a client
catch up; retention.py prunes the log; the broadcast probe and lock housekeeping
(broadcast_probe.py, housekeeping.py, lock_notices.py) run beside the hub; commands.py
carries commands to connections on every server; memory_layer.py is the channel layer of a
single process (no REDIS_URL). The next step is realtime/connection/.
"""
