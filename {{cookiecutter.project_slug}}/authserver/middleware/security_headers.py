# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Content-Security-Policy on every response (csp.py; Django 5.2 has none built in), and
Cache-Control: no-store on every response of a view whose policy says so (view_policy.py) and on
every redirect that carries a credential.
"""

from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http.multipartparser import MultiPartParserError
from django.utils.cache import patch_cache_control

from ..csp import allow_form_action, content_security_policy, is_technical_error_page, registered_redirect_uri
from ..view_policy import policy_of_request


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = policy_of_request(request)
        if policy.form_action_to_next:
            # Signing in (or again, or a second factor) may lead straight on to the client, through
            # the authorization request it came from (a client that skips the consent page).
            allow_form_action(request, registered_redirect_uri(next_url_of(request)))
        response.headers.setdefault(
            "Content-Security-Policy",
            content_security_policy(request, policy, inline_styles=is_technical_error_page(response)),
        )
        return response


def next_url_of(request):
    """The `next` a sign-in page was given, or None where the request cannot be read (its answer is
    then the 400 page, which must carry the policy too)."""
    try:
        return request.GET.get(REDIRECT_FIELD_NAME) or request.POST.get(REDIRECT_FIELD_NAME)
    except (SuspiciousOperation, BadRequest, MultiPartParserError):
        return None


# The parameters that carry a code or a token in a redirect: no cache on the way and no browser
# history may keep them (RFC 6749 §5.1, OIDC Core §3.1.3.3, RFC 9700 §4.3).
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
        if policy_of_request(request).no_store or carries_a_credential(response):
            patch_cache_control(response, no_store=True)
        return response
