"""
Presence: who is viewing or editing each graphic, beside the path of a change from a
write to a screen rather than on it.

The per-process tracker (tracker.py) keeps this process's connections' entries, writes
them to the store (store.py: memory, or Redis with the Lua scripts of scripts.py) and
announces what changed through the hub group, like events but outside the event log:
presence frames carry no seq and are not replayed.
"""
