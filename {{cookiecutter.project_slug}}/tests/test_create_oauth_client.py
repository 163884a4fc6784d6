"""`manage.py create_oauth_client`: a server's real clients, from flags, with generated credentials."""

import re

import pytest
from django.core.management import CommandError, call_command

from .support import Credentials

pytestmark = pytest.mark.django_db


def create(capsys, *args):
    call_command("create_oauth_client", *args)
    out = capsys.readouterr().out
    return dict(re.findall(r"^(client_id|client_secret)=(\S+)$", out, re.M)), out


@pytest.fixture
def https_only(settings):
    """Production's rule for redirect URIs."""
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ALLOWED_REDIRECT_URI_SCHEMES": ["https"]}


def test_a_web_client_gets_https_redirect_uris_and_a_secret_shown_once(
    client, application_model, https_only, capsys
):
    credentials, out = create(
        capsys,
        "--name=Shop",
        "--grant=authorization-code",
        "--redirect-uri=https://shop.example/callback",
        "--redirect-uri=https://shop.example/other",
        "--post-logout-redirect-uri=https://shop.example/",
    )
    assert "stored hashed" in out
    shop = application_model.objects.get(client_id=credentials["client_id"])
    assert shop.redirect_uris == "https://shop.example/callback https://shop.example/other"
    assert shop.client_type == application_model.CLIENT_CONFIDENTIAL
    assert shop.algorithm == application_model.RS256_ALGORITHM
    assert shop.client_secret != credentials["client_secret"], "stored hashed"


def test_a_machine_client_authenticates_with_the_printed_secret(client, capsys):
    credentials, _ = create(capsys, "--name=Reports", "--grant=client-credentials")
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=Credentials(credentials["client_id"], credentials["client_secret"]).basic_auth,
    )
    assert response.status_code == 200, response.content


def test_an_http_redirect_uri_where_https_is_required_creates_nothing(application_model, https_only):
    with pytest.raises(CommandError, match="invalid, nothing created"):
        call_command(
            "create_oauth_client",
            "--name=Shop",
            "--grant=authorization-code",
            "--redirect-uri=http://shop.example/callback",
        )
    assert not application_model.objects.exists()


def test_a_public_client_has_no_secret(application_model, capsys):
    credentials, _ = create(
        capsys,
        "--name=App",
        "--grant=authorization-code",
        "--public",
        "--redirect-uri=https://app.example/cb",
    )
    assert "client_secret" not in credentials
    assert application_model.objects.get().client_type == application_model.CLIENT_PUBLIC


def test_a_public_machine_client_is_refused(application_model):
    with pytest.raises(CommandError, match="cannot be public"):
        call_command("create_oauth_client", "--name=M", "--grant=client-credentials", "--public")
    assert not application_model.objects.exists()
