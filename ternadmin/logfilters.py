"""Logging filters: no secret in a log line, and a person's mistake logged in one line.

``RedactSecrets`` passes every message through ``applies.redact`` (a request line with a
``?token=…``, an error quoting a DSN). ``ClientErrorsOnOneLine`` drops the traceback Django
attaches to a 4xx it logs (a 403 from ``PermissionDenied``, a 400 from a refused admin lookup):
the request was wrong, the server was not, and one line says which request it was.
"""

from __future__ import annotations

import logging

from applies.redact import redact


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


class ClientErrorsOnOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
