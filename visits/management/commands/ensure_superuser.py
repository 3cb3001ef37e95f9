from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from visits_project.env import env_secret, env_str


class Command(BaseCommand):
    requires_system_checks = []  # migrate runs them, once, before serving
    help = (
        "Create the superuser named by DJANGO_SUPERUSER_USERNAME, or reset its password "
        "(DJANGO_SUPERUSER_PASSWORD, or the file DJANGO_SUPERUSER_PASSWORD_FILE names) and "
        "e-mail (DJANGO_SUPERUSER_EMAIL). Safe to run on every start; does nothing when "
        "DJANGO_SUPERUSER_USERNAME is unset."
    )

    def handle(self, *args, **options) -> None:
        username = env_str("DJANGO_SUPERUSER_USERNAME")
        if not username:
            self.stdout.write("DJANGO_SUPERUSER_USERNAME is not set; no superuser to ensure.")
            return
        password = env_secret("DJANGO_SUPERUSER_PASSWORD")
        if not password:
            raise CommandError(
                f"DJANGO_SUPERUSER_PASSWORD is empty; set it (or DJANGO_SUPERUSER_PASSWORD_FILE) "
                f"to give {username!r} a password."
            )
        email = env_str("DJANGO_SUPERUSER_EMAIL")

        user_model = get_user_model()
        user, created = user_model._default_manager.get_or_create(
            **{user_model.USERNAME_FIELD: username}
        )
        user.email = email
        user.is_staff = True
        user.is_superuser = True
        user.is_active = True
        user.set_password(password)
        user.save()
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} superuser {username!r}."))
