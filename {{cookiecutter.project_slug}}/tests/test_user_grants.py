"""
What a change to how the user signs in does to what the user's sign-ins granted clients: a
password changed or reset, a second factor removed, the other sessions signed out, the user
deactivated (OWASP ASVS 4.0.3 V3.3.3). Each browser is a Client of its own, signed in on allauth's
pages. Code: authserver/user_grants.py, authserver/accounts.py UserSessionsAdapter.
"""

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core import mail
from django.test import Client

from .support import PASSWORD, AuthorizationRequest, api_me_status, query_of, token_request

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-Long-test-password-43"


def sign_in(browser, user):
    answer = browser.post("/accounts/login/", {"login": user.username, "password": PASSWORD})
    assert answer.status_code == 302, answer.content


def tokens_of(browser, demo_client):
    """The demo client's tokens, allowed on the consent page in this signed-in browser."""
    request = AuthorizationRequest(demo_client.client_id)
    approved = browser.post(request.url, {**request.params, "allow": "Authorize"})
    code = query_of(approved["Location"])["code"]
    answer = token_request(
        browser,
        demo_client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=request.redirect_uri,
        code_verifier=request.code_verifier,
    )
    assert answer.status_code == 200, answer.content
    return answer.json()


def works(demo_client, tokens):
    """Whether the access token is accepted and the refresh token refreshes (a fresh browser asks)."""
    browser = Client()
    accepted = api_me_status(browser, tokens["access_token"]) == 200
    refresh = token_request(
        browser, demo_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    if refresh.status_code == 200:
        tokens.update(refresh.json())
        return accepted
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant", refresh.content
    return False if accepted is False else "refresh refused, access token accepted"


@pytest.fixture
def two_browsers(user, demo_client):
    """This user signed in twice, each browser with the demo client's tokens: (browser, tokens) pairs."""
    pairs = []
    for _ in range(2):
        browser = Client()
        sign_in(browser, user)
        pairs.append((browser, tokens_of(browser, demo_client)))
    return pairs


def test_a_password_change_revokes_the_grants_of_the_other_sign_ins(user, demo_client, two_browsers):
    (mine, my_tokens), (other, other_tokens) = two_browsers
    changed = mine.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302, changed.content
    assert works(demo_client, other_tokens) is False
    # The session that made the change keeps its clients.
    assert works(demo_client, my_tokens) is True


def test_a_password_reset_revokes_every_grant(user, demo_client, two_browsers):
    (_, first), (_, second) = two_browsers
    someone = Client()
    assert someone.post("/accounts/password/reset/", {"email": user.email}).status_code == 302
    link = re.search(r"http://\S+/accounts/password/reset/key/\S+", mail.outbox[-1].body).group(0)
    form = someone.get(link, follow=True)
    assert form.status_code == 200
    reset = someone.post(form.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert reset.status_code == 302, reset.content
    assert works(demo_client, first) is False
    assert works(demo_client, second) is False


def test_signing_out_the_other_sessions_revokes_their_grants(user, demo_client, two_browsers):
    (mine, my_tokens), (other, other_tokens) = two_browsers
    assert mine.post("/accounts/sessions/").status_code == 302
    assert works(demo_client, other_tokens) is False
    assert works(demo_client, my_tokens) is True
    # allauth's part: the other browser is signed out.
    assert other.get("/accounts/consents/").status_code == 302


def test_removing_a_second_factor_revokes_the_grants_of_the_other_sign_ins(user, demo_client, two_browsers):
    (mine, my_tokens), (other, other_tokens) = two_browsers
    TOTP.activate(user, generate_totp_secret())
    # allauth asks for the password again before a second factor is removed.
    page = mine.get("/accounts/2fa/totp/deactivate/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/reauthenticate/")
    assert mine.post(page["Location"], {"password": PASSWORD}).status_code == 302
    removed = mine.post("/accounts/2fa/totp/deactivate/")
    assert removed.status_code == 302, removed.content
    assert not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert works(demo_client, other_tokens) is False
    assert works(demo_client, my_tokens) is True


def test_a_deactivated_users_tokens_are_refused_at_once(user, demo_client, two_browsers):
    (_, first), (_, second) = two_browsers
    user.is_active = False
    user.save()
    assert works(demo_client, first) is False
    assert works(demo_client, second) is False


def test_a_users_other_edits_revoke_nothing(user, demo_client, two_browsers):
    (_, first), _ = two_browsers
    user.first_name = "Alicia"
    user.save()
    assert works(demo_client, first) is True
