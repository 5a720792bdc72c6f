"""The form an operator fills in before breaking someone else's canvas lock."""

from __future__ import annotations

from django import forms

from locks.services import REASON_MAX_LENGTH


class LockOverrideForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=(
            "Required. Kept in the lock audit with your name and the previous holder's, "
            f"at most {REASON_MAX_LENGTH} characters."
        ),
    )
