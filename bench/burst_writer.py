"""
The writer of the `burst` scenario (bench/fanout.py --scenario burst, issue 17): N edits of the
bench graphic by `bench-editor-0` through the service layer, back to back, each committed on its
own (or all in one transaction with --together). Their broadcasts reach the servers through the
Redis channel layer, as another server's edits would.

    python bench/burst_writer.py GRAPHIC_ID COUNT [--together]

It waits for a line on stdin before writing (the load client starts it early, so that Django's
start-up is not counted), then prints how long the writes took.
"""

from __future__ import annotations

import sys
import time

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402

from graphics.models import Graphic  # noqa: E402
from graphics.services import graphic_update  # noqa: E402
from locks.services import lock_acquire  # noqa: E402


def write(graphic_id: int, count: int) -> None:
    editor = get_user_model().objects.get(username="bench-editor-0")
    version = Graphic.objects.get(pk=graphic_id).version
    for number in range(count):
        graphic_update(
            user=editor, graphic_id=graphic_id, version=version + number, title=f"Burst {number}"
        )


def main() -> None:
    graphic_id, count = int(sys.argv[1]), int(sys.argv[2])
    together = "--together" in sys.argv[3:]
    editor = get_user_model().objects.get(username="bench-editor-0")
    lock_acquire(user=editor, graphic_id=graphic_id)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    if together:
        with transaction.atomic():
            write(graphic_id, count)
    else:
        write(graphic_id, count)
    print(f"wrote {count} in {time.perf_counter() - started:.3f} s", flush=True)


if __name__ == "__main__":
    main()
