"""ASGI entry point; verifies the attached SchemaBot schema at start like ``wsgi.py``."""

from __future__ import annotations

from django.core.asgi import get_asgi_application

from ternadmin.startup import load_settings_or_exit

load_settings_or_exit()
application = get_asgi_application()

from applies.schema import verify_attached_schema_or_raise  # noqa: E402  (needs Django set up)

verify_attached_schema_or_raise()
