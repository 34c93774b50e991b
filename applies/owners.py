"""Lease owner strings: ``node/pid/<role>``, like SchemaBot's ``host/pid/driver-N``.

Informational only (the token is what guards writes), but it tells an operator which ternadmin
process holds an apply. ``TERNADMIN_NODE`` names the node when host names are meaningless
(containers); the host name otherwise.
"""

from __future__ import annotations

import os
import socket


def owner_id(role: str) -> str:
    node = os.environ.get("TERNADMIN_NODE", "").strip() or socket.gethostname()
    return f"{node}/{os.getpid()}/{role}"
