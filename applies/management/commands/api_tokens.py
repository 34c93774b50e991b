"""List and revoke the JSON API's bearer tokens.

python manage.py api_tokens list [--user alice] [--all] [--json]
python manage.py api_tokens revoke 3 [4 …]

``list`` shows usable tokens (``--all``: revoked and expired ones too) with their last use;
never the token itself, which is not stored. ``revoke`` stops a token at once (the API answers
401) and keeps its row, as the admin's "Revoke" action does.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.utils import timezone

from applies.api_tokens import revoke, usable
from applies.inputs import parse_id
from applies.models import ApiToken


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _row(token: ApiToken, now: datetime) -> dict[str, Any]:
    return {
        "id": token.pk,
        "user": token.user.get_username(),
        "name": token.name,
        "status": token.status(now),
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


class Command(BaseCommand):
    help = "List the API's bearer tokens, or revoke some by id."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        listing = commands.add_parser("list", help="tokens with their last use and expiry")
        listing.add_argument("--user", help="only this user's tokens")
        listing.add_argument("--all", action="store_true", help="revoked and expired ones too")
        listing.add_argument("--json", action="store_true")
        revoking = commands.add_parser("revoke", help="revoke tokens by id")
        revoking.add_argument("ids", nargs="+")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["command"] == "list":
            self._list(options)
        else:
            self._revoke(options["ids"])

    def _list(self, options: dict[str, Any]) -> None:
        now = timezone.now()
        tokens: QuerySet[ApiToken] = ApiToken.objects.select_related("user").order_by("id")
        if not options["all"]:
            tokens = tokens.filter(usable(now))
        if options["user"]:
            tokens = tokens.filter(user__username=options["user"])
        rows = [_row(token, now) for token in tokens]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write(
            f"{'id':>5}  {'user':<16} {'name':<20} {'status':<8} last used         expires"
        )
        for token in tokens:
            self.stdout.write(
                f"{token.pk:>5}  {token.user.get_username():<16.16} {token.name:<20.20} "
                f"{token.status(now):<8} {_time(token.last_used_at):<17} {_time(token.expires_at)}"
            )

    def _revoke(self, raw_ids: list[str]) -> None:
        ids = [parse_id(raw) for raw in raw_ids]
        if None in ids:
            raise CommandError("Token ids are whole numbers (see `api_tokens list`).")
        found = set(ApiToken.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - found)  # type: ignore[type-var]
        if missing:
            raise CommandError(f"No API token with id {', '.join(map(str, missing))}.")
        by = os.environ.get("USER", "") or "manage.py"
        count = revoke(ApiToken.objects.filter(pk__in=ids), by=f"{by} (manage.py)")
        self.stdout.write(f"Revoked {count} token(s); {len(ids) - count} were revoked already.")
