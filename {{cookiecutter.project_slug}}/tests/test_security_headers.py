"""Security headers on every HTML page, and pages the Content-Security-Policy does not break."""

import contextlib
from html.parser import HTMLParser

import pytest
from django.urls import NoReverseMatch, reverse

from .support import DEMO_REDIRECT_URI, PASSWORD, AuthorizationRequest, query_of, sign_in_through_the_form

pytestmark = pytest.mark.django_db

DEMO_ORIGIN = "http://127.0.0.1:8000"


class InlineCode(HTMLParser):
    """What a policy without 'unsafe-inline' blocks: inline scripts, styles, handlers, javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        # A data block (allauth's pages pass their scripts JSON this way) is never run, so CSP
        # has nothing to block (HTML, "Data blocks").
        if tag == "script" and not attributes.get("src") and attributes.get("type") != "application/json":
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attributes.items():
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
            if name in {"href", "src", "action", "formaction"} and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}=javascript:...>")


def directives(response):
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.fixture
def id_token(authorize, exchange):
    request, code = authorize()
    return exchange(request, code).json()["id_token"]


# The account pages of a signed-in user (allauth's), by URL name.
ACCOUNT_PAGES = {
    "email addresses": "account_email",
    "password change": "account_change_password",
    "re-authentication": "account_reauthenticate",
    "two-factor authentication": "mfa_index",
    "authenticator app": "mfa_activate_totp",
    "passkey": "mfa_add_webauthn",
    "sessions": "usersessions_list",
}


@pytest.fixture
def pages(client, user, demo_client, id_token, settings):
    """Every HTML page, as (name, response)."""
    anonymous = {
        "home": client.get("/"),
        "demo callback": client.get("/demo/callback/", {"code": "abc", "state": "s"}),
    }
    client.logout()
    anonymous["login"] = client.get("/accounts/login/")
    anonymous["password reset"] = client.get(reverse("account_reset_password"))
    anonymous["sign-up closed"] = client.get(reverse("account_signup"))
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "1/m/ip"}
    client.post("/accounts/login/", {"login": user.username, "password": "wrong"})
    anonymous["too many attempts"] = client.post(
        "/accounts/login/", {"login": user.username, "password": "x"}
    )
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "30/m/ip"}
    sign_in_through_the_form(client, user)
    # Second factors are managed only right after entering the password again.
    assert client.post(reverse("account_reauthenticate"), {"password": PASSWORD}).status_code == 302
    signed_in = {name: client.get(reverse(url_name)) for name, url_name in ACCOUNT_PAGES.items()}
    signed_in |= {
        "consent": client.get(AuthorizationRequest(demo_client.client_id).url),
        "authorization error": client.get(AuthorizationRequest("no-such-client").url),
        "logout confirmation": client.get(
            "/o/logout/", {"id_token_hint": id_token, "post_logout_redirect_uri": DEMO_REDIRECT_URI}
        ),
    }
    with contextlib.suppress(NoReverseMatch):  # the device flow's page, where the project has it
        signed_in["device code entry"] = client.get(reverse("oauth2_provider:device"))
    found = {**anonymous, **signed_in}
    for name, response in found.items():
        assert response["Content-Type"].startswith("text/html"), name
        assert response.status_code in {200, 400, 429}, name
    return found


def test_every_page_forbids_framing_and_inline_code(pages):
    """RFC 9700 §4.16 (clickjacking) and CSP Level 3: no frames, no inline code, forms post here."""
    for name, response in pages.items():
        assert response["X-Frame-Options"] == "DENY", name
        policy = directives(response)
        assert policy["frame-ancestors"] == ["'none'"], name
        assert policy["default-src"] == ["'self'"], name
        assert policy["form-action"][0] == "'self'", name
        assert "'unsafe-inline'" not in response["Content-Security-Policy"], name
        assert response["Referrer-Policy"] == "same-origin", name
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", name
        assert response["X-Content-Type-Options"] == "nosniff", name


def test_no_page_has_code_the_policy_would_block(pages):
    for name, response in pages.items():
        parser = InlineCode()
        parser.feed(response.content.decode())
        assert parser.found == [], name


class ImageSources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.found.append(dict(attrs).get("src") or "")


def test_data_images_are_allowed_only_where_the_authenticator_apps_qr_code_needs_them(pages):
    """The TOTP enrolment page's QR code is a data: URI (allauth's); every other page keeps
    default-src 'self' for images."""
    for name, response in pages.items():
        parser = ImageSources()
        parser.feed(response.content.decode())
        has_data_image = any(source.startswith("data:") for source in parser.found)
        image_policy = directives(response).get("img-src")
        if name == "authenticator app":
            assert has_data_image and image_policy == ["'self'", "data:"], image_policy
        else:
            assert not has_data_image and image_policy is None, name


def test_the_consent_form_may_lead_to_the_clients_redirect_uri(pages):
    """The consent POST answers with a redirect to the client, which form-action must allow."""
    assert directives(pages["consent"])["form-action"] == ["'self'", DEMO_ORIGIN]


def test_the_logout_form_may_lead_to_the_post_logout_uri(pages):
    assert directives(pages["logout confirmation"])["form-action"] == ["'self'", DEMO_ORIGIN]


def test_other_pages_forms_stay_on_this_site(pages):
    for name in ("home", "login", "authorization error", *ACCOUNT_PAGES):
        assert directives(pages[name])["form-action"] == ["'self'"], name


def test_the_login_form_may_lead_on_to_a_registered_redirect_uri(client, demo_client):
    """After signing in, a client that skips the consent page is redirected to straight away."""
    request = AuthorizationRequest(demo_client.client_id)
    response = client.get("/accounts/login/", {"next": request.url})
    assert directives(response)["form-action"] == ["'self'", DEMO_ORIGIN]
    unregistered = AuthorizationRequest(demo_client.client_id, redirect_uri="https://evil.example/cb")
    response = client.get("/accounts/login/", {"next": unregistered.url})
    assert directives(response)["form-action"] == ["'self'"]


def test_the_consent_form_works_under_the_policy(client, user, demo_client):
    """The form is the real one: its hidden fields and its POST give a code at the redirect URI."""
    request = AuthorizationRequest(demo_client.client_id)
    login = client.post(
        "/accounts/login/", {"login": user.username, "password": PASSWORD, "next": request.url}
    )
    page = client.get(login["Location"])
    assert 'action="' not in page.content.decode().split('id="authorizationForm"')[1].split(">")[0]
    fields = {name: value for name, value in page.context["form"].initial.items() if value is not None}
    response = client.post(request.url, {**fields, "allow": "Authorize"})
    assert response.status_code == 302
    assert response["Location"].startswith(DEMO_REDIRECT_URI)
    assert "code=" in response["Location"]


def test_json_endpoints_carry_the_policy_too(client):
    response = client.get("/.well-known/openid-configuration")
    assert directives(response)["default-src"] == ["'self'"]


def no_store(response):
    return "no-store" in [directive.strip() for directive in response.get("Cache-Control", "").split(",")]


def test_every_answer_carrying_a_credential_is_never_stored(pages, client, user, demo_client, exchange):
    """RFC 6749 §5.1, OIDC Core §3.1.3.3, RFC 9700 §4.3: no cache and no history keeps a page with a
    password form, a consent or a code, nor a redirect or a JSON answer carrying a code or token."""
    for name in ("login", "too many attempts", "consent", "authorization error", *ACCOUNT_PAGES):
        assert no_store(pages[name]), name
    for name in ("demo callback", "logout confirmation"):
        assert no_store(pages[name]), name
    request = AuthorizationRequest(demo_client.client_id)
    redirect = client.post(request.url, {**request.params, "allow": "Authorize"})
    assert redirect.status_code == 302 and "code=" in redirect["Location"]
    assert no_store(redirect)
    tokens = exchange(request, query_of(redirect["Location"])["code"])
    assert tokens.status_code == 200 and no_store(tokens)
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access_token']}")
    assert userinfo.status_code == 200 and no_store(userinfo)
    # Pages without a credential stay cacheable as before.
    assert not no_store(pages["home"])
