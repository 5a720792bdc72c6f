"""
The event log: every change to a graphic, a lock or the standings a graphic draws, in commit
order.

An event's id is its `seq`, the number clients resume and poll from. Ids are handed out in
commit order (see `EventManager.append`), so "every event up to seq N" is a well-defined prefix
of the log on every server.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models, router
from django.utils import timezone

# The key of the PostgreSQL advisory lock that orders event appends. Any fixed 64-bit number
# works; this one spells "GALEVENT" in hex-ish so it is recognisable in pg_locks.
EVENT_APPEND_LOCK_KEY = 0x6A1E_7E47


class EventType(models.TextChoices):
    GRAPHIC_UPDATE = "graphic_update", "Graphic update"
    LOCK_STATUS = "lock_status", "Lock status"
    STANDINGS_UPDATE = "standings_update", "Standings update"
    # On air (issue 16, graphics.on_air).
    GRAPHIC_TAKE = "graphic_take", "Graphic taken to air"
    GRAPHIC_CLEAR = "graphic_clear", "Graphic cleared from air"
    GRAPHIC_LIVE = "graphic_live", "Graphic live mode switched"


class EventManager(models.Manager["Event"]):
    def append(self, *, graphic_id: int, type: str, data: dict[str, Any]) -> Event:
        """
        Append an event inside the caller's transaction.

        On PostgreSQL a sequence hands out ids when rows are inserted, not when they commit, so
        two concurrent transactions could commit seq 11 before seq 10 and a client resuming
        from 11 would never see 10. A transaction-scoped advisory lock, taken just before the
        insert and held until commit, makes id order equal commit order. (SQLite's IMMEDIATE
        transactions already serialise every writer.)
        """
        self.hold_order()
        # Under the append lock, the events before this one are settled: remember the seq of
        # the last one, and of the last one of the same graphic, so that a hub receiving this
        # event through one group (realtime.delivery.hub) can tell whether it missed one before it.
        previous_seq, previous_graphic_seq = self._last_seqs(graphic_id)
        event = self.create(graphic_id=graphic_id, type=type, data=data)
        event.previous_seq = previous_seq or 0
        event.previous_graphic_seq = previous_graphic_seq or 0
        return event

    def _last_seqs(self, graphic_id: int) -> tuple[int | None, int | None]:
        """The last event's seq, and the last of `graphic_id`'s, in one query (each an index
        lookup: on the primary key, and on (graphic_id, id)). One query less on every change
        than two ORM reads; the ORM has no SELECT of two subqueries without a table."""
        connection = connections[router.db_for_write(Event)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT id FROM {table} ORDER BY id DESC LIMIT 1), "
                f"(SELECT id FROM {table} WHERE graphic_id = %s ORDER BY id DESC LIMIT 1)",
                [graphic_id],
            )
            previous_seq, previous_graphic_seq = cursor.fetchone()
        return previous_seq, previous_graphic_seq

    def hold_order(self) -> None:
        """Take the append lock now, until the caller's transaction ends (taking it again is
        free). An event whose data is read from other rows (the standings a graphic draws) is
        built after this: every change committed before it is then visible, and every change
        committing after it appends a later event that sees this one's transaction."""
        connection = connections[router.db_for_write(Event)]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EVENT_APPEND_LOCK_KEY])


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    # A plain number, not a foreign key: events outlive the graphics they describe.
    graphic_id = models.BigIntegerField(db_index=True)
    type = models.CharField(max_length=32, choices=EventType.choices)
    # The message's `data` as subscribers of the graphic receive it, without `seq`.
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = EventManager()

    # Set by `EventManager.append` only (not stored): the seq of the event before this one in
    # the log, and in this graphic's stream. None on an event read back from the log.
    previous_seq: int | None = None
    previous_graphic_seq: int | None = None

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["graphic_id", "id"], name="event_graphic_seq")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type} graphic {self.graphic_id}"

    @property
    def seq(self) -> int:
        return self.pk


class EventLogHorizon(models.Model):
    """
    How far pruning has eaten into the event log: one row (pk 1), written in the transaction
    that deletes the events. Every event with a seq above `pruned_through` is still in the
    log, so a client whose last seq is at least `pruned_through` can be replayed exactly. A
    separate row rather than min(id) of the log, because an empty log, or a graphic without
    events, says nothing about what was there before.
    """

    SINGLETON_PK = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_PK)
    # The highest seq deleted so far (0: nothing was ever pruned). Only ever grows.
    pruned_through = models.BigIntegerField(default=0)
    pruned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="event_log_horizon_singleton")
        ]

    def __str__(self) -> str:
        return f"events pruned through seq {self.pruned_through}"
