"""The admin's on-air log (issue 16): read-only, linked to each version's rendering."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from graphics.models import AirInterval
from graphics.on_air import graphic_clear, graphic_take

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/graphics/airinterval/"


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_lists_intervals_with_links(graphic: Any, editor: Any, lock_admin: Any) -> None:
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1, reason="Opening")
    graphic_clear(user=editor, graphic_id=graphic.pk, reason="Break")
    lock_admin.is_staff = True
    lock_admin.save()
    client = logged_in(lock_admin)

    page = client.get(CHANGELIST)

    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/api/graphics/{graphic.pk}/history/1/"' in html
    assert f'href="/admin/graphics/graphic/{graphic.pk}/change/"' in html
    interval = AirInterval.objects.get()
    detail = client.get(f"{CHANGELIST}{interval.pk}/change/")
    assert detail.status_code == 200
    assert "Opening" in detail.content.decode() and "Break" in detail.content.decode()


def test_the_air_log_cannot_be_edited_in_the_admin(
    graphic: Any, editor: Any, superuser: Any
) -> None:
    """Nobody adds, changes or deletes intervals by hand: not even a superuser."""
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    interval = AirInterval.objects.get()
    client = logged_in(superuser)
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    response = client.post(f"{CHANGELIST}{interval.pk}/change/", {"taken_reason": "forged"})
    assert response.status_code == 403
    assert client.post(f"{CHANGELIST}{interval.pk}/delete/", {"post": "yes"}).status_code == 403
    interval.refresh_from_db()
    assert interval.taken_reason == ""
