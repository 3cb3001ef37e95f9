from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from visits_project.env import env_secret, env_str


class Command(BaseCommand):
    requires_system_checks = []  # migrate runs them, once, before serving
    help = (
        "Create the superuser named by DJANGO_SUPERUSER_USERNAME, with the password "
        "DJANGO_SUPERUSER_PASSWORD (or the file DJANGO_SUPERUSER_PASSWORD_FILE names) and the "
        "e-mail DJANGO_SUPERUSER_EMAIL, unless a user of that name exists: that one is left as "
        "it is (an operator may have changed or deactivated it) unless --reset is given. Safe "
        "to run on every start; does nothing when DJANGO_SUPERUSER_USERNAME is unset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Set an existing user's password, e-mail and superuser flags again.",
        )

    def handle(self, *args: Any, reset: bool, **options: Any) -> None:
        # The admin's superuser, which ensure_superuser creates or updates; unset, none.
        username = env_str("DJANGO_SUPERUSER_USERNAME")
        if not username:
            self.stdout.write("DJANGO_SUPERUSER_USERNAME is not set; no superuser to ensure.")
            return
        user_model = get_user_model()
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is not None and not reset:
            self.stdout.write(
                f"Superuser {username!r} exists and is left as it is; pass --reset to set its "
                "password, e-mail and flags again."
            )
            return
        created = user is None
        user = user or user_model(**{user_model.USERNAME_FIELD: username})
        # The superuser's e-mail address; none where it is not set.
        user.email = env_str("DJANGO_SUPERUSER_EMAIL")
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(self._password(user, username))
        user.save()
        verb = "Created" if created else "Reset"
        self.stdout.write(self.style.SUCCESS(f"{verb} superuser {username!r}."))

    @staticmethod
    def _password(user: User, username: str) -> str:
        """The password from the environment, once Django's validators accept it for USER."""
        # The superuser's password, required, and refused where Django's validators refuse it.
        password = env_secret("DJANGO_SUPERUSER_PASSWORD")
        if not password:
            raise CommandError(
                f"DJANGO_SUPERUSER_PASSWORD is empty; set it (or DJANGO_SUPERUSER_PASSWORD_FILE) "
                f"to give {username!r} a password."
            )
        try:
            # In English, as every message of the commands operators run.
            with translation.override("en"):
                validate_password(password, user)
        except ValidationError as error:
            raise CommandError(
                f"DJANGO_SUPERUSER_PASSWORD is too weak for {username!r}: "
                f"{' '.join(error.messages)} Choose a longer passphrase."
            ) from None
        return password
