"""Environment parsing for the engine settings (the ``# --- Engines ---`` block of settings).

Kept free of Django models so ``ternadmin/settings.py`` can import it; every bad value fails at
start with a message naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from applies.vocabulary import Engine
from ternadmin import config
from ternadmin.config import env_float

__all__ = ["env_engines", "env_float", "env_host", "env_http_url"]

KNOWN_ENGINES: tuple[str, ...] = tuple(engine.value for engine in Engine)


def env_engines(environ: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    """A comma list of the engines ternadmin drives: an unknown name is a typo, and an engine
    without a driver here (spirit: SchemaBot's own operator drives it) is refused too."""
    from applies.engines.driven import ENGINES_WITH_DRIVER  # no import of its own: cheap

    engines = [engine.lower() for engine in config.env_list(environ, name, default)]
    unknown = sorted(set(engines) - set(KNOWN_ENGINES))
    if unknown:
        raise ImproperlyConfigured(
            f"{name}: unknown engine(s) {', '.join(unknown)}; known: {', '.join(KNOWN_ENGINES)}."
        )
    undriven = sorted(set(engines) - set(ENGINES_WITH_DRIVER))
    if undriven:
        raise ImproperlyConfigured(
            f"{name}: ternadmin has no driver for {', '.join(undriven)} (SchemaBot's own "
            f"operator drives it); engines with a driver: {', '.join(ENGINES_WITH_DRIVER)}."
        )
    return list(dict.fromkeys(engines))


def env_http_url(environ: Mapping[str, str], name: str, default: str) -> str:
    """An http(s) base URL without a trailing slash, or '' when unset and no default."""
    url = config.env_str(environ, name) or default
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port out of range or not a number raises ValueError
    except ValueError:  # also a malformed IPv6 host, such as "http://[::1"
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured(f"{name}={url!r} is not an http:// or https:// URL.")
    return url.rstrip("/")


_HOST = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


def env_host(environ: Mapping[str, str], name: str, default: str) -> str:
    """A bare DNS host name (no scheme, port or path), lower-cased."""
    host = (config.env_str(environ, name) or default).lower()
    if not _HOST.fullmatch(host):
        raise ImproperlyConfigured(f"{name}={host!r} is not a host name (e.g. {default}).")
    return host
