"""Starting ternadmin: a bad setting stops it with one line naming the setting, no traceback.

``ternadmin.settings`` validates the environment as it loads and raises ``ImproperlyConfigured``
with a message that names the variable. The entry points (``manage.py``, ``wsgi.py``,
``asgi.py``) load the settings through ``load_settings_or_exit`` first, so that message is what
the operator sees.
"""

from __future__ import annotations

import os
import sys

from django.core.exceptions import ImproperlyConfigured

EXIT_BAD_SETTINGS = 2


def load_settings_or_exit() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ternadmin.settings")
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018  (reading a setting loads and validates them all)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"ternadmin: {exc}\n")
        sys.exit(EXIT_BAD_SETTINGS)
