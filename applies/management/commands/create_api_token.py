"""Create a bearer token for the JSON API and print it once.

python manage.py create_api_token alice --name chat-ops [--expires-days 90]

The token acts as its user, with that user's role; only its SHA-256 hash is stored, so it
cannot be shown again. List and revoke tokens with ``manage.py api_tokens`` (or in the admin).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from applies.api_tokens import create_token

MAX_DAYS = 3650


class Command(BaseCommand):
    help = "Create a JSON API bearer token for a user and print it (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. chat-ops")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help=f"the token stops working after this many days (1-{MAX_DAYS}); default: never",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["username"]})
        except User.DoesNotExist:
            raise CommandError(f"There is no user {options['username']!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {options['username']!r} is not active.")
        days = options["expires_days"]
        if days is not None and not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--expires-days must be between 1 and {MAX_DAYS}.")
        expires_in = timedelta(days=days) if days is not None else None
        self.stdout.write(create_token(user, options["name"][:100], expires_in=expires_in))
