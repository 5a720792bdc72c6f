"""
Bench fixture: `python bench/prepare.py N OUT.json [EDITORS [GRAPHICS ELEMENTS]]` (Django
settings from the environment).

Creates editors (one by default), N viewers (one per subscriber: the per-user connection limit
must not shape the benchmark) and one graphic, and writes their ids and access tokens to
OUT.json. With GRAPHICS and ELEMENTS (the compression part, bench/compression.py) it also
creates GRAPHICS more graphics, the last with a canvas of ELEMENTS text elements.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from graphics.services import graphic_create  # noqa: E402


def main(
    subscribers: int, output: str, editor_count: int, graphics: int = 0, elements: int = 0
) -> None:
    editors = User.objects.bulk_create(
        [User(username=f"bench-editor-{index}", password="!") for index in range(editor_count)]
    )
    editor_group = Group.objects.get(name="Editor")
    editor_group.user_set.add(*editors)
    editor = editors[0]
    viewers = User.objects.bulk_create(
        [User(username=f"bench-viewer-{index}", password="!") for index in range(subscribers)]
    )
    viewer_group = Group.objects.get(name="Viewer")
    Membership = User.groups.through
    Membership.objects.bulk_create(
        [Membership(user_id=viewer.pk, group_id=viewer_group.pk) for viewer in viewers]
    )
    canvas = {
        "background": None,
        "elements": [
            {
                "id": "headline",
                "type": "text",
                "x": 40,
                "y": 40,
                "font_size": 48,
                "color": "#ffffff",
                "content": "start",
            },
            {
                "id": "standings",
                "type": "players",
                "x": 40,
                "y": 140,
                "font_size": 28,
                "color": "#f5c542",
                "spacing": 36,
                "preview_count": 8,
            },
        ],
    }
    graphic = graphic_create(user=editor, title="Bench", event_name="Bench", data=canvas)
    big_graphic_id = None
    headline: dict[str, Any] = dict(canvas["elements"][0])  # type: ignore[index]
    for number in range(graphics):
        many = {
            "background": None,
            "elements": [
                {
                    **headline,
                    "id": f"line-{index}",
                    "y": 40 + index * 12,
                    "content": f"Player {index} - {index * 7 % 41} pts",
                }
                for index in range(elements if number == graphics - 1 else 3)
            ],
        }
        big_graphic_id = graphic_create(
            user=editor, title=f"Round {number} standings", event_name="GAL Season 3", data=many
        ).pk
    with open(output, "w") as out:
        json.dump(
            {
                "graphic_id": graphic.pk,
                "big_graphic_id": big_graphic_id,
                "version": graphic.version,
                "canvas": canvas,
                "editor_token": str(AccessToken.for_user(editor)),
                "editor_tokens": [str(AccessToken.for_user(user)) for user in editors],
                "viewer_tokens": [str(AccessToken.for_user(viewer)) for viewer in viewers],
            },
            out,
        )


if __name__ == "__main__":
    main(
        int(sys.argv[1]),
        sys.argv[2],
        int(sys.argv[3]) if len(sys.argv) > 3 else 1,
        *(int(value) for value in sys.argv[4:6]),
    )
