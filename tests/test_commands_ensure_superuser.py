import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_ensure_superuser_creates_then_resets_only_when_asked(monkeypatch, capsys):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "operator")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "first-Secret-1")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")
    call_command("ensure_superuser")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "second-Secret-2")

    call_command("ensure_superuser")
    kept = get_user_model().objects.get().check_password("first-Secret-1")
    call_command("ensure_superuser", "--reset")

    user = get_user_model().objects.get()
    assert kept is True
    assert (user.username, user.email, user.is_staff, user.is_superuser) == (
        "operator",
        "ops@example.com",
        True,
        True,
    )
    assert user.check_password("first-Secret-1") is False
    assert user.check_password("second-Secret-2") is True
    assert capsys.readouterr().out.splitlines() == [
        "Created superuser 'operator'.",
        "Superuser 'operator' exists and is left as it is; pass --reset to set its password, "
        "e-mail and flags again.",
        "Reset superuser 'operator'.",
    ]


def test_ensure_superuser_leaves_a_deactivated_superuser_deactivated(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "operator")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "first-Secret-1")
    call_command("ensure_superuser")
    get_user_model().objects.update(is_active=False)

    call_command("ensure_superuser")

    assert get_user_model().objects.get().is_active is False


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        (
            "admin",
            "This password is too short. It must contain at least 8 characters. "
            "This password is too common.",
        ),
        ("12345678901", "This password is too common. This password is entirely numeric."),
        ("operator1", "The password is too similar to the username."),
    ],
)
def test_ensure_superuser_refuses_a_weak_password_saying_why(monkeypatch, password, problem):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "operator")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)

    with pytest.raises(CommandError) as error:
        call_command("ensure_superuser")

    assert str(error.value) == (
        f"DJANGO_SUPERUSER_PASSWORD is too weak for 'operator': {problem} "
        "Choose a longer passphrase."
    )
    assert get_user_model().objects.count() == 0


def test_ensure_superuser_without_username_does_nothing(monkeypatch, capsys):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)

    call_command("ensure_superuser")

    assert get_user_model().objects.count() == 0
    assert capsys.readouterr().out == (
        "DJANGO_SUPERUSER_USERNAME is not set; no superuser to ensure.\n"
    )


def test_ensure_superuser_without_password_fails_with_fix(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "operator")
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    with pytest.raises(CommandError) as error:
        call_command("ensure_superuser")

    assert str(error.value) == (
        "DJANGO_SUPERUSER_PASSWORD is empty; set it (or DJANGO_SUPERUSER_PASSWORD_FILE) to give "
        "'operator' a password."
    )
    assert get_user_model().objects.count() == 0


def test_ensure_superuser_reads_password_from_file(monkeypatch, tmp_path):
    (tmp_path / "password").write_text("from-a-File-3\n")
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "operator")
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD_FILE", str(tmp_path / "password"))

    call_command("ensure_superuser")

    assert get_user_model().objects.get().check_password("from-a-File-3") is True
