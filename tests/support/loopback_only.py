"""An audit hook that keeps a process on the loopback: every name lookup of, or connection to,
anything but 127.0.0.1, ::1 or localhost is recorded and refused (after `delay` seconds, as an
address that does not answer would be). A child process installs it before it imports the
connector (an audit hook cannot be removed), with `tests/` on its PYTHONPATH."""

from __future__ import annotations

import sys
import time
from typing import Any

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def refuse_non_loopback(delay: float = 0.0) -> list[str]:
    """Install the hook; the list it fills with the hosts it refused."""
    refused: list[str] = []

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in ("socket.getaddrinfo", "socket.gethostbyname"):
            host = args[0].decode() if isinstance(args[0], bytes) else args[0]
        elif event == "socket.connect" and isinstance(args[1], tuple):
            host = args[1][0]
        else:
            return
        if host is not None and str(host) not in LOOPBACK:
            refused.append(str(host))
            time.sleep(delay)
            raise OSError(f"no traffic to {host} (only the loopback)")

    sys.addaudithook(hook)
    return refused
