"""
RFC 8707 resource indicators: the resources a token may be bound to.

A client names the resource it wants a token for with `resource` at the authorization and token
endpoints; DOT checks its form and stores it on the code and the tokens, whose `aud` it becomes
at introspection, and a resource of this server refuses a token bound to another
(Validator.validate_bearer_token). What is checked here is that the server knows the resource:
it is one of OAUTH_RESOURCES (settings), by default the sample /api/me/ on the issuer's origin;
any other is invalid_target (§2), before the user is asked to consent.
"""

from django.conf import settings
from django.urls import reverse
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors


def sample_resource(request):
    """The resource identifier of the sample /api/me/ (RFC 9728 §1.2): its URL on the issuer's origin."""
    return oauth2_settings.oidc_issuer(request).rstrip("/") + reverse("api-me")


def known_resources(request):
    return set(settings.OAUTH_RESOURCES) or {sample_resource(request)}


def check_resources(request):
    """RFC 8707 §2: a resource the server does not know is invalid_target.

    Run on every authorization and token request (server.py); a token request that
    names none keeps the code's or refresh token's resources, which were checked when asked for.
    """
    pairs = [*request.uri_query_params, *(request.decoded_body or [])]
    named = [value for name, value in pairs if name == "resource"]
    # DOT hands the consent form's resources to oauthlib as request.resource, not as parameters.
    given = getattr(request, "resource", None) or []
    named += [given] if isinstance(given, str) else list(given)
    unknown = sorted(set(named) - known_resources(request))
    if unknown:
        raise errors.CustomOAuth2Error(
            "invalid_target", description=f"Unknown resource: {unknown[0]}.", request=request
        )
    return {}
