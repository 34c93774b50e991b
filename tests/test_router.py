from __future__ import annotations

from django.contrib.auth.models import User
from django.db import router

from applies.models import SCHEMABOT_MODELS


def test_schemabot_models_go_to_the_schemabot_database() -> None:
    for model in SCHEMABOT_MODELS:
        assert router.db_for_read(model) == "schemabot"
        assert router.db_for_write(model) == "schemabot"
        assert model._meta.managed is False  # Django's migrations never create or alter them


def test_everything_else_stays_on_default() -> None:
    assert router.db_for_read(User) == "default"
    assert router.db_for_write(User) == "default"


def test_migrations_only_run_on_default() -> None:
    assert router.allow_migrate("default", "auth")
    assert not router.allow_migrate("schemabot", "auth")
    assert not router.allow_migrate("schemabot", "applies", model_name="apply")
