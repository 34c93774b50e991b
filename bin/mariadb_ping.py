"""Exit 0 when the MariaDB/MySQL server of the URL given as the only argument answers."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import MySQLdb


def main(url: str) -> int:
    parts = urlsplit(url)
    try:
        MySQLdb.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            connect_timeout=3,
        ).close()
    except MySQLdb.Error as exc:
        print(f"MariaDB ping failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
