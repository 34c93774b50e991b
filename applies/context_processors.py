from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def console(request: HttpRequest) -> dict[str, Any]:
    """What every page shows in its frame: demo banner and which SchemaBot database mode."""
    return {"demo_mode": settings.DEMO_MODE, "schemabot_mode": settings.SCHEMABOT_MODE}
