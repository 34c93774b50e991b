"""Starting ternadmin: a bad setting stops every entry point with one line naming it.

``manage.py`` (so the scheduler, ``manage.py qcluster``, too), ``ternadmin.wsgi`` (gunicorn)
and ``ternadmin.asgi`` start through here. Settings are loaded first, then, for the servers,
the attached SchemaBot schema is verified; an ``ImproperlyConfigured`` from either (or from a
command), or a database URL that leads nowhere (no such database, access denied, no server
there), is written to stderr as ``ternadmin: <what is wrong, naming the variable>`` and the
process exits without a traceback: status 2 from ``manage.py``, 4 from a server (under
gunicorn, 4 is "the application failed to load": the master stops instead of starting worker
after worker).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db.utils import OperationalError

SETTINGS_MODULE = "ternadmin.settings"
EXIT_BAD_SETTINGS = 2
EXIT_SERVER_MISCONFIGURED = 4  # gunicorn's APP_LOAD_ERROR

# MySQL/MariaDB errors that say a database URL leads nowhere: access denied (1044, 1045, 1698),
# no such database (1049), no server at that address (2002, 2003, 2005). Anything else a
# command meets on its way keeps its traceback.
_URL_LEADS_NOWHERE = frozenset({1044, 1045, 1049, 1698, 2002, 2003, 2005})
_URL_SETTINGS = {"default": "TERNADMIN_DATABASE_URL", "schemabot": "SCHEMABOT_DATABASE_URL"}

T = TypeVar("T")


@contextmanager
def one_line_on_bad_settings(status: int) -> Iterator[None]:
    try:
        yield
    except ImproperlyConfigured as exc:
        _stop(str(exc), status)
    except OperationalError as exc:
        if not exc.args or exc.args[0] not in _URL_LEADS_NOWHERE:
            raise
        _stop(f"cannot use the database {_unusable_urls()} names: {exc.args[-1]}", status)


def _stop(message: str, status: int) -> None:
    from applies.redact import redact  # a message may quote a URL with its password

    sys.stderr.write(f"ternadmin: {redact(message)}\n")
    sys.stderr.flush()
    raise SystemExit(status) from None


def _unusable_urls() -> str:
    """Which of the two database settings leads nowhere, found by connecting to each."""
    from django.db import connections

    unusable = []
    for alias, setting in _URL_SETTINGS.items():
        try:
            connections[alias].ensure_connection()
        except Exception:  # whatever stops it, this is a URL that leads nowhere
            unusable.append(setting)
    return " and ".join(unusable) or " or ".join(_URL_SETTINGS.values())


def _load_settings() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018  (imports and checks every setting now)


def run_command_line(argv: list[str]) -> None:
    """``manage.py``: settings first, then the command, a bad setting as one line."""
    from django.core.management import execute_from_command_line

    with one_line_on_bad_settings(EXIT_BAD_SETTINGS):
        _load_settings()
        execute_from_command_line(argv)


def _server(make: Callable[[], T]) -> T:
    with one_line_on_bad_settings(EXIT_SERVER_MISCONFIGURED):
        _load_settings()
        application = make()
        from applies.schema import verify_attached_schema_or_raise

        verify_attached_schema_or_raise()
    return application


def wsgi_application() -> Any:
    """The WSGI application, once settings and the attached schema are known to be good."""
    from django.core.wsgi import get_wsgi_application

    return _server(get_wsgi_application)


def asgi_application() -> Any:
    from django.core.asgi import get_asgi_application

    return _server(get_asgi_application)
