"""WSGI entry point (``gunicorn -c python:ternadmin.gunicorn_conf ternadmin.wsgi``).

A bad setting, or in attach mode a missing SchemaBot table or column, stops the server at
start with one line naming it (``ternadmin.startup``), instead of failing under an operator.
"""

from __future__ import annotations

from ternadmin.startup import wsgi_application

application = wsgi_application()
