"""
An owner changes what the server decides through the adapter alone (settings.OAUTH_SERVER_ADAPTER,
authserver/adapter.py; docs/customising.md), never by editing the engine: here a claim of their
own, first-party clients that skip the consent page, and acr values of their federation.
"""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.checks import run_checks
from django.test import override_settings

from {{ cookiecutter.project_slug }}.adapter import ServerAdapter

from .support import (
    AuthorizationRequest,
    authorize_with,
    consent_and_exchange,
    query_of,
    sign_in_through_the_form,
    verify_id_token,
)

pytestmark = pytest.mark.django_db

LOWER, HIGHER = "urn:example:loa:1", "urn:example:loa:2"


class FederationAdapter(ServerAdapter):
    """What an owner writes in their own adapter.py."""

    claim_scopes = {**ServerAdapter.claim_scopes, "team": "profile"}
    acr_values = (LOWER, HIGHER)

    def claims(self, user):
        return {**super().claims(user), "team": "platform"}

    def skip_consent(self, request, application, scopes):
        first_party = application.name.startswith("First-party ")
        return first_party or super().skip_consent(request, application, scopes)


@pytest.fixture(autouse=True)
def federation_adapter():
    with override_settings(OAUTH_SERVER_ADAPTER=f"{__name__}.FederationAdapter"):
        yield


def test_a_claim_of_the_owners_is_released_with_its_scope_and_listed(
    client, signed_in, demo_client, exchange
):
    request = AuthorizationRequest(demo_client.client_id, scope="openid profile")
    assert authorize_with(client, request).status_code == 200
    allowed = client.post(request.url, {**request.params, "allow": "Authorize"})
    tokens = exchange(request, query_of(allowed["Location"])["code"]).json()
    assert verify_id_token(client, tokens["id_token"])["team"] == "platform"
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()
    assert userinfo["team"] == "platform"
    assert "team" in client.get("/.well-known/openid-configuration").json()["claims_supported"]


def test_without_its_scope_the_owners_claim_is_not_released(client, signed_in, demo_client, exchange):
    request = AuthorizationRequest(demo_client.client_id, scope="openid email")
    assert authorize_with(client, request).status_code == 200
    assert "team" not in consent_and_exchange(client, request, exchange)


def test_a_first_party_client_skips_the_consent_page_and_others_do_not(
    client, signed_in, demo_client, demo_application
):
    request = AuthorizationRequest(demo_client.client_id)
    assert authorize_with(client, request).status_code == 200
    demo_application.name = "First-party portal"
    demo_application.save()
    answer = authorize_with(client, request)
    assert answer.status_code == 302
    assert "code" in query_of(answer["Location"])
    # prompt=consent still shows the page (OIDC Core §3.1.2.1).
    assert authorize_with(client, request, prompt="consent").status_code == 200


def test_the_owners_acr_values_are_offered_reported_and_asked_for(
    client, user, demo_client, demo_application, exchange
):
    assert client.get("/.well-known/openid-configuration").json()["acr_values_supported"] == [LOWER, HIGHER]
    sign_in_through_the_form(client, user)
    request = AuthorizationRequest(demo_client.client_id)
    assert authorize_with(client, request).status_code == 200
    assert consent_and_exchange(client, request, exchange)["acr"] == LOWER
    # A user with an authenticator app, asked for the higher level, is sent to use it.
    TOTP.activate(user, generate_totp_secret())
    stepping_up = authorize_with(client, AuthorizationRequest(demo_client.client_id), acr_values=HIGHER)
    assert stepping_up.status_code == 302
    assert stepping_up["Location"].startswith("/accounts/2fa/reauthenticate/")


class OneLevelAdapter(ServerAdapter):
    acr_values = ("urn:example:loa:1 urn:example:loa:2",)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("nowhere.Adapter", "oauth.E006"),
        ("django.views.View", "oauth.E006"),
        (f"{__name__}.OneLevelAdapter", "oauth.E007"),
    ],
)
def test_an_adapter_the_engine_cannot_use_is_a_check_error(path, error):
    with override_settings(OAUTH_SERVER_ADAPTER=path):
        assert error in {message.id for message in run_checks()}
