# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
RFC 8707 resource indicators: the resources a token may be bound to.

A client names the resource it wants a token for with `resource` at the authorization and token
endpoints; DOT checks its form and stores it on the code and the tokens, whose `aud` it becomes
at introspection, and a resource of this server refuses a token bound to another
(Validator.validate_bearer_token). What is checked here is that the server knows the resource:
it is one of OAUTH_RESOURCES (settings: absolute URIs, or paths on the issuer's origin, by
default the sample API's /api/me/) or a resource a resource server serves (Application.resource_uris,
as create_resource_server registers it); any other is invalid_target (§2), before the user is
asked to consent.
"""

from django.conf import settings
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors


def known_resources(request):
    """OAUTH_RESOURCES as absolute URIs (a path is on the issuer's origin), and the resources the
    usable resource servers serve. `request` is Django's or oauthlib's (DOT's oidc_issuer reads
    either)."""
    issuer = oauth2_settings.oidc_issuer(request).rstrip("/")
    configured = {
        issuer + resource if resource.startswith("/") else resource for resource in settings.OAUTH_RESOURCES
    }
    # Only confidential clients may introspect (introspection.py): no other serves a resource.
    resource_servers = get_application_model().objects.filter(
        is_resource_server=True, is_disabled=False, client_type=get_application_model().CLIENT_CONFIDENTIAL
    )
    served = resource_servers.exclude(resource_uris="").values_list("resource_uris", flat=True)
    return configured | {uri for uris in served for uri in uris.split()}


def check_resources(request):
    """RFC 8707 §2: a resource the server does not know is invalid_target.

    Run on every authorization, token and device authorization request (server.py,
    endpoints/device.py); a token request that names none keeps the code's or refresh token's
    resources, which were checked when asked for, and costs no query.
    """
    pairs = [*request.uri_query_params, *(request.decoded_body or [])]
    named = [value for name, value in pairs if name == "resource"]
    # DOT hands the consent form's resources to oauthlib as request.resource, not as parameters.
    given = getattr(request, "resource", None) or []
    named += [given] if isinstance(given, str) else list(given)
    if not named:
        return {}
    unknown = sorted(set(named) - known_resources(request))
    if unknown:
        raise errors.CustomOAuth2Error(
            "invalid_target", description=f"Unknown resource: {unknown[0]}.", request=request
        )
    return {}
