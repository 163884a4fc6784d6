"""The seed command: idempotent, driven by the environment, loud on bad input."""

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.checks import run_checks
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def seed(capsys):
    call_command("seed_oauth_clients")
    return capsys.readouterr().out


def test_first_run_creates_both_clients(client_env, application_model, capsys):
    out = seed(capsys)
    assert out.count("created:") == 2
    demo = application_model.objects.get(client_id=client_env["OAUTH_DEMO_CLIENT_ID"])
    assert demo.authorization_grant_type == application_model.GRANT_AUTHORIZATION_CODE
    assert demo.client_type == application_model.CLIENT_CONFIDENTIAL
    assert demo.algorithm == application_model.RS256_ALGORITHM
    assert demo.redirect_uris == client_env["OAUTH_DEMO_REDIRECT_URI"]
    m2m = application_model.objects.get(client_id=client_env["OAUTH_M2M_CLIENT_ID"])
    assert m2m.authorization_grant_type == application_model.GRANT_CLIENT_CREDENTIALS


def test_the_demo_may_also_return_to_its_callback_on_the_issuer(
    client_env, application_model, settings, capsys
):
    settings.OAUTH_ISSUER = "http://localhost:8000"
    seed(capsys)
    demo = application_model.objects.get(client_id=client_env["OAUTH_DEMO_CLIENT_ID"])
    wanted = f"{client_env['OAUTH_DEMO_REDIRECT_URI']} http://localhost:8000/demo/callback/"
    assert demo.redirect_uris == wanted
    assert demo.post_logout_redirect_uris == wanted
    assert seed(capsys).count("unchanged:") == 2


def test_second_run_changes_nothing(client_env, application_model, capsys):
    seed(capsys)
    before = list(application_model.objects.order_by("pk").values())
    out = seed(capsys)
    assert out.count("unchanged:") == 2
    assert list(application_model.objects.order_by("pk").values()) == before


def test_changed_values_update_the_client(client_env, application_model, monkeypatch, capsys):
    seed(capsys)
    monkeypatch.setenv("OAUTH_DEMO_REDIRECT_URI", "https://app.example.com/callback")
    monkeypatch.setenv("OAUTH_DEMO_CLIENT_SECRET", "a-new-secret-" + "x" * 40)
    out = seed(capsys)
    assert "updated:" in out
    demo = application_model.objects.get(client_id=client_env["OAUTH_DEMO_CLIENT_ID"])
    assert demo.redirect_uris == "https://app.example.com/callback"
    assert check_password("a-new-secret-" + "x" * 40, demo.client_secret)
    assert application_model.objects.count() == 2


def test_missing_value_is_a_clear_error(client_env, application_model, monkeypatch):
    monkeypatch.setenv("OAUTH_M2M_CLIENT_SECRET", "")
    with pytest.raises(CommandError, match="OAUTH_M2M_CLIENT_SECRET is not set"):
        call_command("seed_oauth_clients")
    assert not application_model.objects.exists()


def test_invalid_redirect_uri_changes_nothing(client_env, application_model, monkeypatch):
    monkeypatch.setenv("OAUTH_DEMO_REDIRECT_URI", "not a uri")
    with pytest.raises(CommandError, match="invalid"):
        call_command("seed_oauth_clients")
    assert not application_model.objects.exists()


def test_allowed_scopes_and_the_resource_server_come_from_the_environment(
    client_env, application_model, monkeypatch, capsys
):
    monkeypatch.setenv("OAUTH_DEMO_ALLOWED_SCOPES", "openid,read")
    monkeypatch.setenv("OAUTH_M2M_ALLOWED_SCOPES", "write")
    seed(capsys)
    demo = application_model.objects.get(client_id=client_env["OAUTH_DEMO_CLIENT_ID"])
    m2m = application_model.objects.get(client_id=client_env["OAUTH_M2M_CLIENT_ID"])
    assert (demo.allowed_scopes, demo.is_resource_server) == ("openid read", False)
    assert (m2m.allowed_scopes, m2m.is_resource_server) == ("write", True)
    # Unset: the demo client may have every scope offered, the machine client every one that
    # does not describe a user.
    monkeypatch.delenv("OAUTH_DEMO_ALLOWED_SCOPES")
    monkeypatch.setenv("OAUTH_M2M_ALLOWED_SCOPES", "")
    assert "updated:" in seed(capsys)
    demo.refresh_from_db()
    m2m.refresh_from_db()
    assert demo.allowed_scopes.split() == list(settings.OAUTH_SCOPES)
    assert m2m.allowed_scopes.split() == list(settings.OAUTH_APP_SCOPES)


def test_unknown_allowed_scope_is_a_clear_error(client_env, application_model, monkeypatch):
    monkeypatch.setenv("OAUTH_M2M_ALLOWED_SCOPES", "read,admin")
    with pytest.raises(CommandError, match="Unknown scopes: admin"):
        call_command("seed_oauth_clients")
    assert not application_model.objects.exists()


def test_no_demo_creates_only_the_machine_client(client_env, application_model, capsys):
    call_command("seed_oauth_clients", "--no-demo")
    out = capsys.readouterr().out
    assert out.count("created:") == 1
    assert list(application_model.objects.values_list("client_id", flat=True)) == [
        client_env["OAUTH_M2M_CLIENT_ID"]
    ]


@pytest.fixture
def https_only(settings):
    """Production's rule for redirect URIs."""
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ALLOWED_REDIRECT_URI_SCHEMES": ["https"]}


def test_an_http_demo_client_is_skipped_where_https_is_required(
    client_env, application_model, https_only, capsys
):
    call_command("seed_oauth_clients")
    out = capsys.readouterr().out
    assert "skipped: " in out and "OAUTH_DEMO_REDIRECT_URI=http://127.0.0.1:8000/demo/callback/" in out
    assert "--no-demo" in out
    # The machine client is there all the same: nothing rolled back.
    assert list(application_model.objects.values_list("client_id", flat=True)) == [
        client_env["OAUTH_M2M_CLIENT_ID"]
    ]


def scope_warnings():
    return [message for message in run_checks(databases=["default"]) if message.id == "oauth.W003"]


def test_a_client_allowed_a_scope_no_longer_offered_is_a_warning_that_says_what_to_run(
    client_env, application_model, settings, capsys
):
    seed(capsys)
    assert scope_warnings() == []
    # "write" leaves OAUTH_SCOPES (.env) after both clients were seeded with it.
    settings.OAUTH_APP_SCOPES = {
        name: text for name, text in settings.OAUTH_APP_SCOPES.items() if name != "write"
    }
    settings.OAUTH_SCOPES = {**settings.OIDC_SCOPES, **settings.OAUTH_APP_SCOPES}
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "SCOPES": settings.OAUTH_SCOPES}
    warnings = scope_warnings()
    assert len(warnings) == 2
    demo = application_model.objects.get(client_id=client_env["OAUTH_DEMO_CLIENT_ID"])
    assert f"Client {demo.name!r} (client_id {demo.client_id})" in warnings[0].msg + warnings[1].msg
    assert all(
        "offers: write." in warning.msg and "seed_oauth_clients" in warning.hint for warning in warnings
    )
    assert all("admin" in warning.hint for warning in warnings)
    # Without a database named (runserver, plain `check`), the check reads none.
    assert "oauth.W003" not in [message.id for message in run_checks()]
    # The command it names fixes it.
    seed(capsys)
    assert scope_warnings() == []
