from __future__ import annotations

from django.apps import AppConfig


class LocalScaleConfig(AppConfig):
    name = "localscale"
    label = "localscale"
    verbose_name = "LocalScale (PlanetScale emulator)"
    default_auto_field = "django.db.models.BigAutoField"
