"""Signing key rotation: a new key signs, the old one stays in the JWKS until its ID tokens expire."""

import json
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from jwcrypto import jws, jwt

from authserver import signing_keys

from .support import verify_id_token

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "keys" / "oidc.key"
    call_command("create_oidc_key", path=path, verbosity=0)
    return path


def inactive_keys(key_file):
    return sorted((key_file.parent / "inactive").glob("*.key"))


def header_kid(id_token):
    token = jws.JWS()
    token.deserialize(id_token)
    return token.jose_header["kid"]


def serve_keys(settings, key_file):
    """What the oauth app does at start-up, for the keys on disk now."""
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": "",
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": "",
    }
    signing_keys.load_signing_keys(settings.OAUTH2_PROVIDER, key_file, key_file.parent / "inactive")


def test_rotation_keeps_the_old_key_beside_the_new_one(key_file):
    old = key_file.read_text()
    call_command("rotate_oidc_key", path=key_file, verbosity=0)
    [inactive] = inactive_keys(key_file)
    assert inactive.read_text() == old
    assert inactive.name.endswith(f"-{signing_keys.key_id(old)}.key")
    assert key_file.read_text() != old
    for path in (key_file, inactive):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rotation_without_an_active_key_says_how_to_make_one(tmp_path):
    with pytest.raises(CommandError, match="create_oidc_key"):
        call_command("rotate_oidc_key", path=tmp_path / "absent.key")


@pytest.mark.django_db
def test_id_tokens_signed_before_a_rotation_verify_until_the_key_is_retired(
    client, settings, key_file, authorize, exchange
):
    serve_keys(settings, key_file)
    before = exchange(*authorize()).json()["id_token"]
    old_kid = signing_keys.key_id(key_file.read_text())
    assert header_kid(before) == old_kid

    call_command("rotate_oidc_key", path=key_file, verbosity=0)
    serve_keys(settings, key_file)
    new_kid = signing_keys.key_id(key_file.read_text())
    published = [key["kid"] for key in client.get("/o/.well-known/jwks.json").json()["keys"]]
    assert published == [new_kid, old_kid]
    assert verify_id_token(client, before)["aud"]
    after = exchange(*authorize()).json()["id_token"]
    assert header_kid(after) == new_kid
    assert verify_id_token(client, after)["aud"]

    call_command("retire_oidc_keys", inactive_dir=key_file.parent / "inactive", older_than=0, verbosity=0)
    serve_keys(settings, key_file)
    assert [key["kid"] for key in client.get("/o/.well-known/jwks.json").json()["keys"]] == [new_kid]
    with pytest.raises(jwt.JWTMissingKey):
        verify_id_token(client, before)


def test_retiring_keeps_keys_whose_id_tokens_may_still_be_valid(key_file, settings):
    inactive_dir = key_file.parent / "inactive"
    inactive_dir.mkdir()
    lifetime = settings.OAUTH2_PROVIDER["ID_TOKEN_EXPIRE_SECONDS"]
    pem = key_file.read_text()
    long_ago = signing_keys.inactive_key_path(
        inactive_dir, pem, timezone.now() - timedelta(seconds=lifetime + 60)
    )
    recently = signing_keys.inactive_key_path(
        inactive_dir, pem, timezone.now() - timedelta(seconds=lifetime - 60)
    )
    unnamed = inactive_dir / "hand-made.key"
    for path in (long_ago, recently, unnamed):
        path.write_text(pem)

    call_command("retire_oidc_keys", inactive_dir=inactive_dir, verbosity=0)

    assert sorted(inactive_dir.iterdir()) == sorted([recently, unnamed])


def test_settings_publish_inactive_keys_from_disk_and_from_the_environment(key_file, tmp_path):
    call_command("rotate_oidc_key", path=key_file, verbosity=0)
    on_disk = inactive_keys(key_file)[0].read_text()
    from_environment = tmp_path / "other.key"
    call_command("create_oidc_key", path=from_environment, verbosity=0)
    probe = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.OAUTH2_PROVIDER['OIDC_RSA_PRIVATE_KEYS_INACTIVE']))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_ENV_FILE": os.devnull,
            "OIDC_RSA_PRIVATE_KEY_FILE": str(key_file),
            # As a platform's environment holds PEM text: newlines written as \n.
            "OIDC_RSA_PRIVATE_KEYS_INACTIVE": from_environment.read_text().replace("\n", "\\n"),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    published = json.loads(result.stdout.splitlines()[-1])
    assert [signing_keys.key_id(pem) for pem in published] == [
        signing_keys.key_id(from_environment.read_text()),
        signing_keys.key_id(on_disk),
    ]


def test_retiring_nothing_says_so(key_file, capsys):
    call_command("rotate_oidc_key", path=key_file)
    capsys.readouterr()
    call_command("retire_oidc_keys", inactive_dir=key_file.parent / "inactive")
    out = capsys.readouterr().out
    assert "Nothing retired" in out and "too recently" in out
    assert len(inactive_keys(key_file)) == 1


@pytest.mark.django_db
def test_a_staged_key_is_published_first_and_signs_once_activated(
    client, settings, key_file, authorize, exchange
):
    """Two-phase rotation for several servers: every JWKS has the new key before it signs anything."""
    old_kid = signing_keys.key_id(key_file.read_text())
    call_command("rotate_oidc_key", path=key_file, stage=True, verbosity=0)
    staged = signing_keys.staged_key_path(key_file)
    assert stat.S_IMODE(staged.stat().st_mode) == 0o600
    new_kid = signing_keys.key_id(staged.read_text())
    serve_keys(settings, key_file)
    published = [key["kid"] for key in client.get("/o/.well-known/jwks.json").json()["keys"]]
    assert published == [old_kid, new_kid]
    assert header_kid(exchange(*authorize()).json()["id_token"]) == old_kid
    with pytest.raises(CommandError, match="staged already"):
        call_command("rotate_oidc_key", path=key_file, stage=True)

    call_command("rotate_oidc_key", path=key_file, activate=True, verbosity=0)
    assert not staged.exists()
    serve_keys(settings, key_file)
    published = [key["kid"] for key in client.get("/o/.well-known/jwks.json").json()["keys"]]
    assert published == [new_kid, old_kid]
    assert header_kid(exchange(*authorize()).json()["id_token"]) == new_kid
    with pytest.raises(CommandError, match="No staged key"):
        call_command("rotate_oidc_key", path=key_file, activate=True)
