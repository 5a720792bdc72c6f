"""
The lock bodies of the REST API, as the OpenAPI schema shows them.

Like `graphics.api_serializers`, these describe and check nothing: answers are made by
`locks.selectors.lock_state`, and request values go to `locks.services` as received. The
graphics serializers embed `LockStateSerializer`, since every graphic answer carries its lock.
"""

from __future__ import annotations

from rest_framework import serializers

from locks.services import REASON_MAX_LENGTH


class LockStateSerializer(serializers.Serializer):
    """A graphic's lock. An expired lock shows as free: locked false and every other field null."""

    locked = serializers.BooleanField()
    locked_by = serializers.CharField(allow_null=True, help_text="The holder's username.")
    locked_by_id = serializers.IntegerField(allow_null=True)
    lock_time = serializers.DateTimeField(allow_null=True, help_text="When the holder took it.")
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Free after this unless the holder refreshes it."
    )
    fencing_token = serializers.IntegerField(
        allow_null=True, help_text="Grows with every new holder of this graphic's lock."
    )


class LockOverrideSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH, help_text="Kept in the lock audit."
    )
    take_over = serializers.BooleanField(
        default=False,
        help_text="true: you become the holder. false (default): the lock is released.",
    )


class LiveLockSerializer(serializers.Serializer):
    graphic_id = serializers.IntegerField()
    graphic_title = serializers.CharField()
    lock = LockStateSerializer()
