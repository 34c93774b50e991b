"""gunicorn settings for ternadmin: ``gunicorn -c python:ternadmin.gunicorn_conf ternadmin.wsgi``.

Its access log (``--access-logfile -``) masks credentials in what it writes: a token sent in a
query string (which ternadmin refuses with a 400), a password in a referring URL, an
``Authorization`` header if a log format names it. Other settings come from the command line.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from applies.redact import redact


class RedactingLogger(Logger):
    """gunicorn's logger, with every access-log field passed through ``applies.redact``."""

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
    ) -> dict[str, Any]:
        found = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in found.items()
        }


logger_class = RedactingLogger
