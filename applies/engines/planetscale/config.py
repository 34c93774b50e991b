"""The PlanetScale client's configuration, from the ``PLANETSCALE_*`` settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class PlanetScaleConfig:
    api_url: str
    organization: str
    token_id: str
    token: str = field(repr=False)
    timeout_seconds: float = 10.0
    max_retries: int = 4
    backoff_seconds: float = 0.5  # first retry waits about this long, then doubling
    backoff_cap_seconds: float = 10.0
    # Branch passwords expire on their own after this long, so that a driver killed before
    # it deleted its password leaves nothing usable behind for more than a few minutes.
    password_ttl_seconds: int = 600

    @classmethod
    def from_settings(cls) -> PlanetScaleConfig:
        from django.conf import settings

        config = cls(
            api_url=settings.PLANETSCALE_API_URL,
            organization=settings.PLANETSCALE_ORGANIZATION,
            token_id=settings.PLANETSCALE_SERVICE_TOKEN_ID,
            token=settings.PLANETSCALE_SERVICE_TOKEN,
            timeout_seconds=float(settings.PLANETSCALE_TIMEOUT_SECONDS),
            max_retries=settings.PLANETSCALE_MAX_RETRIES,
            backoff_seconds=settings.PLANETSCALE_BACKOFF_SECONDS,
            password_ttl_seconds=settings.PLANETSCALE_PASSWORD_TTL_SECONDS,
        )
        config.check()
        return config

    def check(self) -> None:
        missing = [
            name
            for name, value in (
                ("PLANETSCALE_API_URL", self.api_url),
                ("PLANETSCALE_ORGANIZATION", self.organization),
                ("PLANETSCALE_SERVICE_TOKEN_ID", self.token_id),
                ("PLANETSCALE_SERVICE_TOKEN", self.token),
            )
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(
                f"PlanetScale applies are driven (TERNADMIN_ENGINES) but {', '.join(missing)} "
                "is not set."
            )
