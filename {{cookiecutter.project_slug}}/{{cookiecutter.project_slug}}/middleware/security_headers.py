"""
Content-Security-Policy on every response; Django 5.2 has none built in. Cache-Control: no-store
on every response that carries a credential.

The policy is CONTENT_SECURITY_POLICY in settings. Its form-action lets forms submit to this
site only, but a form's answer may redirect on to a client (the consent page to the redirect
URI, the logout page to the post-logout URI), and browsers check form-action on those
redirects too (CSP Level 3 §6.3.1): the views that render such forms call
allow_form_action() with the URI they were asked to redirect to, once it is known to be
registered for the client.
"""

from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.urls import reverse
from django.utils.cache import patch_cache_control
from oauth2_provider.models import get_application_model

from ..oauth.common import has_nul

# Characters that would end a source expression or a directive.
POLICY_SYNTAX = set(" ;,'\"\t\r\n")

# The names of allauth's views (README, "Accounts"): passwords, reset links, TOTP secrets, recovery codes,
# sessions, all of them personal.
ACCOUNT_VIEW_PREFIXES = ("account_", "mfa_", "usersessions_")

# The pages that show an image made on the server as a data: URI, the TOTP enrolment's QR code
# (allauth's mfa/totp/activate_form.html): img-src allows data: there and nowhere else. A data:
# image runs no script (CSP Level 3 §2.3: images are not script), so this exposes nothing.
DATA_IMAGE_VIEWS = {"mfa_activate_totp"}


def allow_form_action(request, uri):
    """Let the forms of this request's page lead to `uri`'s origin."""
    parts = urlsplit(uri or "")
    source = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
    if parts.scheme and not POLICY_SYNTAX.intersection(source):
        vars(request).setdefault("form_action_sources", set()).add(source)


def registered_redirect_uri(authorization_url):
    """The redirect URI an authorization request at `authorization_url` will answer, if registered."""
    parts = urlsplit(authorization_url or "")
    if parts.path != reverse("oauth2_provider:authorize"):
        return None
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    client_id = query.get("client_id", "")
    if has_nul(client_id):
        return None
    application = get_application_model().objects.filter(client_id=client_id).first()
    if application is None:
        return None
    redirect_uri = query.get("redirect_uri") or application.default_redirect_uri
    return redirect_uri if application.redirect_uri_allowed(redirect_uri) else None


def policy(request):
    directives = {name: list(sources) for name, sources in settings.CONTENT_SECURITY_POLICY.items()}
    match = getattr(request, "resolver_match", None)
    if match and match.view_name in DATA_IMAGE_VIEWS:
        directives["img-src"] = [*directives.get("img-src", directives["default-src"]), "data:"]
    directives["form-action"] = [
        *directives.get("form-action", []),
        *sorted(getattr(request, "form_action_sources", ())),
    ]
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match and match.view_name.startswith(ACCOUNT_VIEW_PREFIXES):
            # Signing in (or again, or a second factor) may lead straight on to the client, through
            # the authorization request it came from (a client that skips the consent page).
            next_url = request.GET.get(REDIRECT_FIELD_NAME) or request.POST.get(REDIRECT_FIELD_NAME)
            allow_form_action(request, registered_redirect_uri(next_url))
        response.headers.setdefault("Content-Security-Policy", policy(request))
        return response


# The pages and endpoints whose answers carry a code, a token, a password form or a consent, and
# the parameters that carry one in a redirect. No cache on the way and no browser history may
# keep them: RFC 6749 §5.1, OIDC Core §3.1.3.3, RFC 9700 §4.3.
NO_STORE_VIEWS = {
    "oauth2_provider:authorize",
    "oauth2_provider:token",
    "oauth2_provider:revoke-token",
    "oauth2_provider:introspect",
    "oauth2_provider:user-info",
    "oauth2_provider:rp-initiated-logout",
    "oauth2_provider:device-authorization",
    "oauth2_provider:device",
    "oauth2_provider:device-confirm",
    "demo",
    "demo-start",
    "demo-callback",
    "demo-refresh",
    "demo-revoke",
    "demo-logout",
}
CREDENTIAL_PARAMETERS = {"code", "access_token", "id_token", "refresh_token", "device_code", "user_code"}


def carries_a_credential(response):
    location = urlsplit(response.get("Location", ""))
    names = {*parse_qs(location.query, keep_blank_values=True), *parse_qs(location.fragment)}
    return not CREDENTIAL_PARAMETERS.isdisjoint(names)


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view_name = match.view_name if match else ""
        if (
            view_name in NO_STORE_VIEWS
            or view_name.startswith(ACCOUNT_VIEW_PREFIXES)
            or carries_a_credential(response)
        ):
            patch_cache_control(response, no_store=True)
        return response
