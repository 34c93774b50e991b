"""Durations in words (applies.durations)."""

from __future__ import annotations

from applies.durations import duration


def test_duration_words() -> None:
    assert [duration(s) for s in (0, 59, 252, 3600 * 5 + 61, 90_061)] == [
        "0s",
        "59s",
        "4m12s",
        "5h1m",
        "1d1h",
    ]


def test_an_unknown_duration_says_so() -> None:
    assert duration(None) == "unknown" and duration(-5) == "0s"
