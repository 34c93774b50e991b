#!/usr/bin/env python
"""Django's command-line utility for ternadmin (a bad setting is one line: ternadmin.startup)."""

from __future__ import annotations

import sys


def main() -> None:
    from ternadmin.startup import run_command_line

    run_command_line(sys.argv)


if __name__ == "__main__":
    main()
