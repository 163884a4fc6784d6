# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Client registration without a human, for MCP clients and other agents: dynamic client
registration (RFC 7591) and its management (RFC 7592), and Client ID Metadata Documents (a client
whose client_id is the https URL of its metadata). On when MCP_READY is (settings, "MCP AND AGENTS").

The views and DOT's CIMD resolver are DOT's; what they let register is narrowed here, before DOT
stores anything (`policy_violation`, for a registration request and a fetched document alike):
- a public client only (`token_endpoint_auth_method: none`): it gets no secret to leak, and PKCE
  guards its codes (RFC 9700 §2.1.1); confidential clients are added by an admin;
- redirect URIs on loopback (http on 127.0.0.1 or ::1, any port, RFC 8252 §7.3; or localhost) or
  https, with a scheme the server's settings allow (ALLOWED_REDIRECT_URI_SCHEMES);
- grant types authorization_code and refresh_token only;
- scopes among the server's own plus openid, profile and email; what it asks for (default: the
  default scopes) becomes its `allowed_scopes`;
- at most THROTTLE_REGISTRATIONS_PER_IP registrations per address per throttling window
  (middleware/throttling.py, by the view's declared policy).
Refusals are RFC 7591 §3.2.2 errors. Only the registration access token issued with a client
reads, changes or deletes that client's registration (RFC 7592 §2, DOT's check). A metadata
document outside the policy leaves its client unknown: invalid_client, or the error page for a
user (DOT's resolver, which also fetches with its SSRF guards: https, public addresses only, no
redirects, bounded time and size, a backoff per failing URL).
"""

import ipaddress
import json
from urllib.parse import urlsplit

from django.http import JsonResponse
from oauth2_provider import views as oauth2_views
from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from ..errors import oauth_error
from ..scopes import registrable_scopes
from ..view_policy import OAUTH_ENDPOINT, Throttle, declare

REGISTERED_GRANT_TYPES = {"authorization_code", "refresh_token"}


def is_loopback_or_https(uri):
    """RFC 8252 §7.3 (http on a loopback address, any port) or §7.1/§8.4 https; no fragment.

    `localhost` counts as loopback too: RFC 8252 §8.3 does not recommend it, but MCP clients register
    it (MCP Inspector's http://localhost:6274/oauth/callback), and the MCP authorization spec allows
    it. Its port must match exactly (DOT's ALLOW_LOCALHOST_LOOPBACK stays off).
    """
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.fragment or not host or parts.scheme not in oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def policy_violation(metadata):
    """Why the client metadata may not be registered, as an RFC 7591 §3.2.2 (error, description), or None."""
    if metadata.get("token_endpoint_auth_method") != "none":
        return (
            "invalid_client_metadata",
            'Only public clients register here: token_endpoint_auth_method must be "none".',
        )
    grant_types = metadata.get("grant_types", ["authorization_code"])
    if not isinstance(grant_types, list) or not set(grant_types) <= REGISTERED_GRANT_TYPES:
        return ("invalid_client_metadata", "grant_types may be authorization_code and refresh_token only.")
    redirect_uris = metadata.get("redirect_uris")
    if (
        not isinstance(redirect_uris, list)
        or not redirect_uris
        or not all(isinstance(uri, str) and is_loopback_or_https(uri) for uri in redirect_uris)
    ):
        return ("invalid_redirect_uri", "Redirect URIs must be https, or http on a loopback address.")
    if not isinstance(metadata.get("client_name", ""), str):
        return ("invalid_client_metadata", "client_name is a string (RFC 7591 §2).")
    scope = metadata.get("scope", "")
    if not isinstance(scope, str) or not set(scope.split()) <= registrable_scopes():
        return ("invalid_client_metadata", "scope names a scope this server does not offer.")
    return None


def policy_error(metadata):
    """The RFC 7591 §3.2.2 response refusing a registration request, or None."""
    if not isinstance(metadata, dict):
        return None  # DOT answers invalid_client_metadata
    violation = policy_violation(metadata)
    return oauth_error(*violation) if violation else None


def parsed_body(request):
    try:
        return json.loads(request.body)
    except ValueError:
        return None


def with_scope(response):
    """RFC 7591 §3.2.1, RFC 7592 §3: the response names every registered field, the scope too."""
    if response.status_code not in (200, 201):
        return response
    document = json.loads(response.content)
    client = get_application_model().objects.get(client_id=document["client_id"])
    described = JsonResponse({**document, "scope": client.allowed_scopes}, status=response.status_code)
    described["Cache-Control"] = "no-store"
    return described


def complete_registration(response, metadata):
    """Give the registered client the scopes it asked for and its ID token algorithm."""
    if response.status_code not in (200, 201):
        return response
    scope = " ".join(dict.fromkeys(metadata.get("scope", "").split())) or " ".join(
        oauth2_settings.DEFAULT_SCOPES
    )
    # DOT leaves `algorithm` empty, and an ID token with no algorithm is a 500 at the token
    # endpoint: RS256, the one algorithm this server signs with (discovery.py), for a client
    # that may ask for openid.
    Application = get_application_model()
    algorithm = Application.RS256_ALGORITHM if "openid" in scope.split() else Application.NO_ALGORITHM
    client_id = json.loads(response.content)["client_id"]
    Application.objects.filter(client_id=client_id).update(allowed_scopes=scope, algorithm=algorithm)
    return with_scope(response)


@declare(OAUTH_ENDPOINT, throttle=Throttle.REGISTRATION)
class DynamicClientRegistrationView(oauth2_views.DynamicClientRegistrationView):
    """RFC 7591 §3: DOT's registration endpoint, for the clients the policy above allows. The
    registrations of each address are counted and limited (Throttle.REGISTRATION)."""

    def post(self, request, *args, **kwargs):
        metadata = parsed_body(request)
        error = policy_error(metadata)
        if error is not None:
            return error
        return complete_registration(super().post(request, *args, **kwargs), metadata)


@declare(OAUTH_ENDPOINT)
class DynamicClientRegistrationManagementView(oauth2_views.DynamicClientRegistrationManagementView):
    """RFC 7592 §2: DOT's client configuration endpoint; an update meets the registration policy."""

    def get(self, request, client_id, *args, **kwargs):
        return with_scope(super().get(request, client_id, *args, **kwargs))

    def put(self, request, client_id, *args, **kwargs):
        # RFC 7592 §2.2: only the client's own registration access token may change it, whatever
        # the metadata says: checked first, by reading the registration as DOT does (§2.1), and
        # again by DOT's put.
        registration = super().get(request, client_id, *args, **kwargs)
        if registration.status_code != 200:
            return registration
        metadata = parsed_body(request)
        error = policy_error(metadata)
        if error is not None:
            return error
        return complete_registration(super().put(request, client_id, *args, **kwargs), metadata)


class ClientMetadataFetcher(SafeMetadataFetcher):
    """DOT's CIMD_METADATA_FETCHER, with the registration policy on each document it fetches.

    A document's client is public whether it says so or not, as DOT reads it (the CIMD draft allows
    no shared secret). DOT stores its name, redirect URIs and grant; its scopes and ID token
    algorithm are set when it is first stored (models.Application.save).
    """

    def fetch(self, client_id):
        document, max_age = super().fetch(client_id)
        violation = policy_violation({"token_endpoint_auth_method": "none", **document})
        if violation:
            raise CIMDError(f"client metadata document outside the registration policy: {violation[1]}")
        return document, max_age
