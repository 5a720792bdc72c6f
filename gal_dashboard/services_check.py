"""`python -m gal_dashboard.services_check DATABASE_URL REDIS_URL`: exit 0 if both answer on
their TCP ports within a second, 1 otherwise. Used by `make test` to decide on the second pass."""

from __future__ import annotations

import socket
import sys
from urllib.parse import urlparse


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def main(argv: list[str]) -> int:
    database_url, redis_url = argv[1], argv[2]
    return 0 if reachable(database_url, 5432) and reachable(redis_url, 6379) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
