"""WSGI entry point (``gunicorn ternadmin.wsgi``).

In attach mode the SchemaBot schema is verified before the first request: a missing table or
column stops the server at start instead of failing later under an operator.
"""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application

from ternadmin.startup import load_settings_or_exit

load_settings_or_exit()
application = get_wsgi_application()

from applies.schema import verify_attached_schema_or_raise  # noqa: E402  (needs Django set up)

verify_attached_schema_or_raise()
