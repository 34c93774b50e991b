"""Lease owner strings: ``host/pid/<role>``, like SchemaBot's ``host/pid/driver-N``.

Informational only (the token is what guards writes), but it tells an operator which ternadmin
process holds an apply.
"""

from __future__ import annotations

import os
import socket


def owner_id(role: str) -> str:
    return f"{socket.gethostname()}/{os.getpid()}/{role}"
