"""How SchemaBot spells generated values: compact JSON, k-sortable identifiers and v4 UUIDs."""

from __future__ import annotations

import json
import random
import uuid

# Compact, like Go's json.Marshal, which wrote every row a real SchemaBot holds.
to_json = json.JSONEncoder(separators=(",", ":")).encode

_MASK32 = (1 << 32) - 1
# Identifiers are k-sortable, like ULIDs: creation time, then a suffix that n -> (n ^ salt) * K
# mod 2**32 (K odd) makes unique for every n < 2**32 and random-looking. Time first keeps the
# inserts into their UNIQUE indexes at the right edge of the B-tree: with random identifiers a
# million-row seed spends most of its time on random index page writes. The plan identifier's
# unique last 8 hex digits also make every PlanetScale branch name unique.
_MULTIPLIER = {"apply": 0x9E3779B97F4A7C15, "plan": 0xC2B2AE3D27D4EB4F, "task": 0x165667B19E3779F9}


class Naming:
    """Identifiers and UUIDs drawn from the seeded RNG (same seed, same suffixes and UUIDs)."""

    def __init__(self, rng: random.Random, salt: int) -> None:
        self.rng, self.salt = rng, salt

    def identifier(self, prefix: str, created: int, n: int) -> str:
        """``<prefix>-<created, 8 hex digits><unique suffix of n, 8 hex digits>``.

        ``prefix`` is ``apply``, ``plan`` or ``task``; ``created`` is in Unix seconds.
        """
        suffix = ((n ^ self.salt) * _MULTIPLIER[prefix]) & _MASK32
        return f"{prefix}-{created:08x}{suffix:08x}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
