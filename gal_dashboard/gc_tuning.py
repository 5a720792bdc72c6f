"""
Garbage collection for a server process that holds thousands of WebSockets (issue 17).

CPython's full collection (its oldest generation) walks every object it tracks, and stops the
event loop while it does. A server with 1,000 connections tracks about 370,000 objects, one with
5,000 over 800,000: in `make bench`, gc callbacks timed full collections of 60 to 300 ms at
1,000 connections and about 1.1 s at 5,000, every 10 to 25 seconds under load. The p99 latency
of the rate rows was that pause and the updates queued behind it: at 1,000 x 20/s, from the
editor's send, about 300 ms with them and 40 ms without.

`tune_for_serving()`, called by gal_dashboard.serve once the application is loaded:

- **Freezes what loading made** (`gc.freeze()`): Django, the URL conf, the models and the rest
  of the application, about 100,000 objects that live as long as the process. No collection
  walks them again.
- **Runs a full collection after GC_FULL_COLLECTION_THRESHOLD collections of the middle
  generation** (1,000; CPython's default is 10). Young garbage is collected as often as before;
  only cycles that outlived two collections (a closed connection's, say) wait longer before they
  are freed. At 5,000 connections and 4 updates a second a full collection then comes every few
  minutes instead of every 10 to 25 seconds; it still takes as long when it comes.
"""

from __future__ import annotations

import gc


def tune_for_serving(full_collection_threshold: int) -> None:
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, full_collection_threshold)
