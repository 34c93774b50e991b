"""ASGI entry point; verifies the attached SchemaBot schema at start like ``wsgi.py``."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ternadmin.settings")

application = get_asgi_application()

from applies.schema import verify_attached_schema_or_raise  # noqa: E402  (needs Django set up)

verify_attached_schema_or_raise()
