"""ASGI entry point; starts like ``wsgi.py`` (``ternadmin.startup``)."""

from __future__ import annotations

from ternadmin.startup import asgi_application

application = asgi_application()
