# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The built-in demo relying party (/demo/): the seeded demo client signing in against this server.

It does what a real web client does, on the server side: the PKCE verifier, `state` and `nonce`
stay in the session (OAuth 2.1 §7.5, OIDC Core §3.1.2.1); the code is redeemed server-to-server
at the token endpoint with the client's secret (OAUTH_DEMO_CLIENT_ID/_SECRET, as
seed_oauth_clients reads them); the ID token is verified against the JWKS (OIDC Core §3.1.3.7)
with joserfc. Then it calls UserInfo and a protected resource (DEMO_RESOURCE: the sample API's
/api/me/ unless settings say otherwise), refreshes (showing the rotation), revokes
(RFC 7009) and signs out (RP-Initiated Logout 1.0).

It calls this server over HTTP, at its configured issuer (OAUTH_ISSUER, which the generated
.env pins) and nowhere else: runserver and gunicorn (threads) answer those calls while this
request waits. Local settings only (DEMO_PAGES_ENABLED).
"""

import base64
import functools
import hashlib
import json
import os
import secrets
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import requests
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.timesince import timesince, timeuntil
from django.views.decorators.http import require_GET, require_POST
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from oauth2_provider.models import get_application_model

from ..view_policy import PRIVATE_PAGE, declare

# Seconds to wait for this server's own answer: it is on the same machine.
HTTP_TIMEOUT = 5
PENDING = "demo_pending"
RESULT = "demo_result"
LOGOUT_SALT = "demo-logout"
SECRET_FIELDS = ("access_token", "refresh_token", "id_token")
# The claims that are times, in seconds since the epoch (RFC 7519 §4.1.4-4.1.6, OIDC Core §2, §5.1).
TIME_CLAIMS = {"exp", "nbf", "iat", "auth_time", "updated_at"}


class DemoError(Exception):
    """A step of the flow failed: shown on the demo's error page."""

    def __init__(self, title, detail, status=400):
        super().__init__(title)
        self.title = title
        self.detail = detail
        self.status = status


def demo_page(view):
    """404 unless the demo pages are on; never stored (they show tokens); no request transaction:
    the flow calls this server's token endpoint while the request waits, and on SQLite the
    request's transaction would hold the write lock that endpoint needs."""

    @declare(PRIVATE_PAGE, read_only=True)
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.DEMO_PAGES_ENABLED:
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except DemoError as error:
            context = {"title": error.title, "detail": error.detail}
            return render(request, "demo/error.html", context, status=error.status)

    return wrapped


def server_url():
    """
    The issuer the demo calls, server to server: OAUTH_ISSUER only. The request's Host header is
    what the client wrote (ALLOWED_HOSTS ignores its port): taking the server from it would let
    anyone have the demo fetch discovery from another port and send the client's secret to the
    token endpoint found there.
    """
    if not settings.OAUTH_ISSUER:
        raise DemoError(
            "No issuer configured",
            "The demo calls this server only at its configured issuer: set OAUTH_ISSUER in .env "
            "(http://localhost:8000 for runserver's default port).",
        )
    return settings.OAUTH_ISSUER.rstrip("/")


def callback_url(request):
    # The browser comes back to the origin it is on, where its session cookie is.
    return request.build_absolute_uri(reverse("demo-callback"))


def demo_credentials():
    client_id = os.environ.get("OAUTH_DEMO_CLIENT_ID", "")
    secret = os.environ.get("OAUTH_DEMO_CLIENT_SECRET", "")
    if not client_id or not secret:
        raise DemoError("No demo client", "Set OAUTH_DEMO_CLIENT_ID and OAUTH_DEMO_CLIENT_SECRET in .env.")
    return client_id, secret


def basic_auth(client_id, secret):
    # RFC 6749 §2.3.1: each part form-urlencoded before Basic encoding.
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def call_server(method, url, **kwargs):
    try:
        return requests.request(method, url, timeout=HTTP_TIMEOUT, allow_redirects=False, **kwargs)
    except requests.RequestException as error:
        raise DemoError("The server did not answer", f"{method} {url}: {error}", status=502) from error


def fetch_json(method, url, **kwargs):
    response = call_server(method, url, **kwargs)
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body


def discover(base_url):
    status, document = fetch_json("GET", f"{base_url}/.well-known/openid-configuration")
    if status != 200:
        raise DemoError("No discovery document", f"/.well-known/openid-configuration answered {status}.")
    return document


def pkce_pair():
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def as_json(value):
    return json.dumps(value, indent=2, ensure_ascii=False)


def moment(seconds, now):
    """An epoch time as people read it: "2026-12-07 23:10:05 UTC (in 5 minutes)", and in ISO 8601."""
    try:
        when = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        # Beyond the dates Python can show: the raw value alone.
        return None
    if when > now:
        relative = f"in {timeuntil(when, now, depth=1)}"
    elif (now - when).total_seconds() < 60:
        relative = "just now"
    else:
        relative = f"{timesince(when, now, depth=1)} ago"
    return {"text": f"{when:%Y-%m-%d %H:%M:%S} UTC ({relative})", "iso": when.isoformat()}


def shown_claims(claims):
    """The ID token's claims, each time claim with its moment beside its raw value."""
    now = datetime.now(UTC)
    return [
        {
            "name": name,
            # As JSON has it (["pwd"], true), strings as they are.
            "value": value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
            "moment": moment(value, now)
            if name in TIME_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool)
            else None,
        }
        for name, value in claims.items()
    ]


def fingerprint(token):
    """A short, one-way name for a token: tells two apart without showing either."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12] if token else ""


def masked(token_response):
    return {
        name: f"••• ({fingerprint(value)})" if name in SECRET_FIELDS and value else value
        for name, value in token_response.items()
    }


def verified_id_token(id_token, metadata, client_id, nonce):
    """OIDC Core §3.1.3.7: the signature against the JWKS, then iss, aud, nonce, exp, iat."""
    _, jwks = fetch_json("GET", metadata["jwks_uri"])
    try:
        token = jwt.decode(
            id_token,
            KeySet.import_key_set(jwks),
            algorithms=metadata["id_token_signing_alg_values_supported"],
        )
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": metadata["issuer"]},
            aud={"essential": True, "value": client_id},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError, KeyError) as error:
        raise DemoError("The ID token did not verify", str(error)) from error
    return token


def resource_url(base_url):
    """The protected resource the demo calls (settings.DEMO_RESOURCE: a path here, or a URL)."""
    return (
        base_url + settings.DEMO_RESOURCE
        if settings.DEMO_RESOURCE.startswith("/")
        else settings.DEMO_RESOURCE
    )


def call_api(metadata, base_url, access_token):
    """The UserInfo endpoint and the protected resource with the access token: (status, body) of each."""
    bearer = {"Authorization": f"Bearer {access_token}"}
    return {
        "userinfo": fetch_json("GET", metadata["userinfo_endpoint"], headers=bearer),
        "resource": fetch_json("GET", resource_url(base_url), headers=bearer),
    }


def redeem(metadata, form):
    client_id, secret = demo_credentials()
    status, body = fetch_json(
        "POST", metadata["token_endpoint"], data=form, headers=basic_auth(client_id, secret)
    )
    if status != 200:
        raise DemoError("The token endpoint refused", f"{status}: {body}")
    return body


def demo_client():
    """The stored demo client (seed_oauth_clients), or None."""
    client_id = os.environ.get("OAUTH_DEMO_CLIENT_ID", "")
    return get_application_model().objects.filter(client_id=client_id).first() if client_id else None


def demo_scopes(application):
    """
    (asked, left out): the scopes offered (OAUTH_SCOPES) that the demo client may have, and those
    it may not. A scope added to .env after the client was seeded is left out rather than asked
    for: asking would make the authorization endpoint answer invalid_scope (RFC 6749 §3.3).
    """
    offered = list(settings.OAUTH_SCOPES)
    if application is None:
        return offered, []
    allowed = application.allowed_scope_set()
    return [name for name in offered if name in allowed], [name for name in offered if name not in allowed]


@demo_page
@require_GET
def home(request):
    result = request.session.get(RESULT)
    context = {
        "result": result,
        "callback_url": callback_url(request),
        "redirect_uri_registered": True,
        # Shown only: unpinned, the path alone (starting the demo then says what to set).
        "resource": resource_url(settings.OAUTH_ISSUER.rstrip("/")),
    }
    if result:
        context["shown"] = {
            "id_token_claims": shown_claims(result["id_token_claims"]),
            "id_token_header": as_json(result["id_token_header"]),
            "userinfo": as_json(result["userinfo"][1]),
            "resource": as_json(result["resource"][1]),
            "response": as_json(result["response"]),
        }
    application = demo_client()
    context["client"] = application
    context["scopes"], context["scopes_left_out"] = demo_scopes(application)
    if application is not None:
        context["redirect_uri_registered"] = application.redirect_uri_allowed(context["callback_url"])
        context["registered_uris"] = application.redirect_uris.split()
    return render(request, "demo/home.html", context)


@demo_page
@require_POST
def start(request):
    """Step 1: send the browser to the authorization endpoint (code + PKCE S256 + nonce)."""
    client_id, _ = demo_credentials()
    base_url = server_url()
    verifier, challenge = pkce_pair()
    pending = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "code_verifier": verifier,
        "redirect_uri": callback_url(request),
    }
    request.session[PENDING] = pending
    request.session.pop(RESULT, None)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": pending["redirect_uri"],
        "scope": " ".join(demo_scopes(demo_client())[0]),
        "state": pending["state"],
        "nonce": pending["nonce"],
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return redirect(f"{discover(base_url)['authorization_endpoint']}?{urlencode(query)}")


@demo_page
@require_GET
def callback(request):
    """Step 2: the browser is back with a code (or an error, or from signing out)."""
    state = request.GET.get("state", "")
    if "code" not in request.GET and "error" not in request.GET:
        return signed_out(request, state)
    pending = request.session.pop(PENDING, None)
    if not pending or not secrets.compare_digest(pending["state"], state):
        raise DemoError(
            "This answer was not asked for here",
            "Its state matches no sign-in this demo started in this browser, so it is refused "
            "(OAuth 2.1 §7.5.1: state protects the client from cross-site request forgery).",
        )
    if "error" in request.GET:
        raise DemoError(request.GET["error"], request.GET.get("error_description", ""))
    base_url = server_url()
    metadata = discover(base_url)
    # RFC 9207: the answer names the issuer it comes from.
    if request.GET.get("iss") != metadata["issuer"]:
        raise DemoError("Wrong issuer", "The iss parameter of the answer is not this server's issuer.")
    form = {
        "grant_type": "authorization_code",
        "code": request.GET["code"],
        "redirect_uri": pending["redirect_uri"],
        "code_verifier": pending["code_verifier"],
    }
    tokens = redeem(metadata, form)
    client_id, _ = demo_credentials()
    id_token = verified_id_token(tokens.get("id_token", ""), metadata, client_id, pending["nonce"])
    request.session[RESULT] = {
        "tokens": tokens,
        "response": masked(tokens),
        "id_token_header": id_token.header,
        "id_token_claims": id_token.claims,
        "checks": [
            "signature verified against the JWKS",
            f"iss is {metadata['issuer']}",
            f"aud is {client_id}",
            "nonce matches the one this demo sent",
            "not expired",
        ],
        **call_api(metadata, base_url, tokens["access_token"]),
        "events": [],
    }
    return redirect("demo")


def signed_out(request, state):
    """Back from RP-initiated logout: the state this demo signed when it sent the user there."""
    try:
        signing.loads(state, salt=LOGOUT_SALT, max_age=600)
    except signing.BadSignature:
        raise DemoError("Nothing to show", "No code, no error, and no sign-out of this demo.") from None
    messages.success(request, "Signed out of the server: RP-initiated logout brought you back here.")
    return redirect("demo")


def current_result(request):
    result = request.session.get(RESULT)
    if not result:
        raise DemoError("Sign in first", "The demo has no tokens yet: start with the button on /demo/.")
    return result


@demo_page
@require_POST
def refresh(request):
    """Refresh: a new access token and, rotated (RFC 9700 §4.14.2), a new refresh token."""
    result = current_result(request)
    base_url = server_url()
    metadata = discover(base_url)
    old = result["tokens"]
    tokens = redeem(metadata, {"grant_type": "refresh_token", "refresh_token": old["refresh_token"]})
    result["events"].append(
        {
            "name": "refreshed",
            "old_access_token": fingerprint(old["access_token"]),
            "new_access_token": fingerprint(tokens["access_token"]),
            "old_refresh_token": fingerprint(old["refresh_token"]),
            "new_refresh_token": fingerprint(tokens.get("refresh_token", "")),
        }
    )
    result.update(
        tokens={**old, **tokens},
        response=masked(tokens),
        **call_api(metadata, base_url, tokens["access_token"]),
    )
    request.session[RESULT] = result
    return redirect("demo")


@demo_page
@require_POST
def revoke(request):
    """Revoke the access token (RFC 7009), then show the protected resource refusing it."""
    result = current_result(request)
    base_url = server_url()
    metadata = discover(base_url)
    access_token = result["tokens"]["access_token"]
    client_id, secret = demo_credentials()
    form = {"token": access_token, "token_type_hint": "access_token"}
    status, _ = fetch_json(
        "POST", metadata["revocation_endpoint"], data=form, headers=basic_auth(client_id, secret)
    )
    answers = call_api(metadata, base_url, access_token)
    result["events"].append(
        {
            "name": "revoked",
            "access_token": fingerprint(access_token),
            "revocation_status": status,
            "resource_status": answers["resource"][0],
        }
    )
    result.update(answers)
    request.session[RESULT] = result
    return redirect("demo")


@demo_page
@require_POST
def logout(request):
    """Sign out at the server (RP-Initiated Logout 1.0 §2), which sends the browser back here."""
    result = current_result(request)
    client_id, _ = demo_credentials()
    query = {
        "id_token_hint": result["tokens"]["id_token"],
        "client_id": client_id,
        "post_logout_redirect_uri": callback_url(request),
        "state": signing.dumps("signed-out", salt=LOGOUT_SALT),
    }
    del request.session[RESULT]
    return redirect(f"{discover(server_url())['end_session_endpoint']}?{urlencode(query)}")
