"""The one error type LocalScale's services raise: an HTTP status, a code and a message."""

from __future__ import annotations


class ApiError(Exception):
    """An error answer: HTTP status, a machine-readable code and a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
