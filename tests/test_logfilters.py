"""No secret in a log line: the message and the traceback of a logged exception are masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from ternadmin.logfilters import RedactSecrets


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("tests.logfilters")
    logger.addHandler(handler)
    logger.propagate = False
    yield stream
    logger.removeHandler(handler)
    logger.propagate = True


def test_a_logged_exception_is_masked_in_its_traceback(logged: io.StringIO) -> None:
    try:
        raise ConnectionError("cannot reach mysql://ternadmin:hunter2@db.internal:3306/x")
    except ConnectionError:
        logging.getLogger("tests.logfilters").exception("sweep pass failed for %s", "token=abc123")

    text = logged.getvalue()
    assert "Traceback" in text and "ConnectionError: cannot reach mysql://ternadmin:" in text
    assert "hunter2" not in text and "abc123" not in text


def test_a_stack_is_masked_too(logged: io.StringIO) -> None:
    # The stack quotes the source line of the call, secret and all.
    logging.getLogger("tests.logfilters").warning("here", stack_info=True, extra={"x": "DB_PASSWORD=hunter2"})  # fmt: skip  # noqa: E501
    text = logged.getvalue()
    assert "Stack (most recent call last)" in text and "hunter2" not in text
