"""Create (or update) a console user in one role, without prompts.

python manage.py create_user alice --role operator --password '…'
TERNADMIN_USER_PASSWORD='…' python manage.py create_user alice --role viewer
"""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from applies.roles import Role

PASSWORD_ENV = "TERNADMIN_USER_PASSWORD"


class Command(BaseCommand):
    help = "Create or update a user with exactly one role (viewer, operator or admin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[role.value for role in Role])
        parser.add_argument(
            "--password", help=f"the password (default: the {PASSWORD_ENV} environment variable)"
        )
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--skip-password-validation",
            action="store_true",
            help="accept a weak password (demo users only)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise CommandError(f"Give a password with --password or {PASSWORD_ENV}.")
        role = Role(options["role"])
        User = get_user_model()
        user = User(username=options["username"], email=options["email"])
        if not options["skip_password_validation"]:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError("Password rejected: " + " ".join(exc.messages)) from None
        with transaction.atomic():
            group = Group.objects.filter(name=role.value).first()
            if group is None:
                raise CommandError(f"Role group {role.value!r} is missing; run `migrate` first.")
            user, created = User.objects.get_or_create(username=options["username"])
            user.email = options["email"] or user.email
            user.set_password(password)
            # Django admin needs staff status; only the admin role gets it.
            user.is_staff = role is Role.ADMIN
            user.save()
            user.groups.set([group])
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} user {user.get_username()!r} with role {role.value}.")
