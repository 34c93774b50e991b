"""Logging filters: no secret in a log line, and a person's mistake logged in one line.

``RedactSecrets`` passes every message and traceback through ``applies.redact`` (a request line
with a ``?token=…``, an error quoting a DSN). ``ClientErrorsOnOneLine`` drops the traceback Django
attaches to a 4xx it logs (a 403 from ``PermissionDenied``, a 400 from a refused admin lookup):
the request was wrong, the server was not, and one line says which request it was.
"""

from __future__ import annotations

import logging

from applies.redact import redact


class RedactSecrets(logging.Filter):
    # Formats the traceback the way the handler's formatter would (it keeps an ``exc_text`` it
    # finds), so that the exception's own words are masked too.
    _tracebacks = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._tracebacks.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class ClientErrorsOnOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
