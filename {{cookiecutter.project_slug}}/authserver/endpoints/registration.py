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
- a client_name other than an admin-created client's (compared case- and space-insensitively):
  the consent page shows the name, and a self-registered client may not pass for a trusted one;
- at most THROTTLE_REGISTRATIONS_PER_IP registrations per address per throttling window
  (middleware/throttling.py, by the view's declared policy); each metadata document URL an
  address is first to name counts as one too (RegistrationsPerAddress), fetched or not.
Refusals are RFC 7591 §3.2.2 errors. Only the registration access token issued with a client
reads, changes or deletes that client's registration (RFC 7592 §2, DOT's check). A metadata
document outside the policy leaves its client unknown: invalid_client, or the error page for a
user (DOT's resolver, with a backoff per failing URL). Documents are fetched with DOT's SSRF
guards (https, no redirects, bounded time and size), from public addresses only as
`is_public_address` judges them (ClientMetadataFetcher).
"""

import ipaddress
import json
import socket
import ssl
import time
import unicodedata
from types import SimpleNamespace
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from oauth2_provider import cimd
from oauth2_provider import views as oauth2_views
from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from ..errors import oauth_error
from ..middleware.throttling import (
    CACHE_ERRORS,
    cache_unavailable,
    counter_key,
    over_limit,
    record_failure,
    registration_counters,
)
from ..scopes import asked_by_document, registrable_scopes
from ..view_policy import OAUTH_ENDPOINT, Throttle, declare

REGISTERED_GRANT_TYPES = {"authorization_code", "refresh_token"}
# IPv6 forms whose low 32 bits are the IPv4 address a connection to them reaches: IPv4-compatible
# (RFC 4291 §2.5.5.1, deprecated, yet Python's is_global passes it), IPv4-mapped (§2.5.5.2),
# IPv4-translated (RFC 2765 §2.1) and NAT64's well-known prefix (RFC 6052 §2.1).
IPV4_IN_LOW_32_BITS = tuple(
    ipaddress.ip_network(prefix) for prefix in ("::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
# RFC 8215: NAT64 for local use, translated by the site's own NAT64 to whatever IPv4 it serves.
LOCAL_USE_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
# RFC 5214 §6.1: an ISATAP interface identifier (0000:5efe or 0200:5efe) carries an IPv4 address.
ISATAP_INTERFACE_ID = 0x5EFE


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


def comparable_name(name):
    """A client name as a user reads it: case, width and spacing aside."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def names_a_verified_client(name):
    """Whether `name` reads as the name of a client an admin created (registration_source manual)."""
    wanted = comparable_name(name)
    Application = get_application_model()
    names = Application.objects.filter(registration_source=Application.RegistrationSource.MANUAL).values_list(
        "name", flat=True
    )
    return bool(wanted) and any(comparable_name(other) == wanted for other in names)


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
    if names_a_verified_client(metadata.get("client_name", "")):
        # RFC 7591 §5: a client may not pose as another; the consent page shows this name.
        return (
            "invalid_client_metadata",
            "client_name is the name of a client of this server; choose another.",
        )
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


# With the session: DOT makes a client registered from a signed-in browser that user's
# (Application.user), reading request.user.
@declare(OAUTH_ENDPOINT, throttle=Throttle.REGISTRATION, session=True)
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


def embedded_ipv4(address):
    """The IPv4 addresses an IPv6 address stands for, where it embeds some; () where it does not."""
    if any(address in prefix for prefix in IPV4_IN_LOW_32_BITS):
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    if address.teredo is not None:
        return address.teredo  # RFC 4380 §4: the Teredo server's and the client's
    if address.sixtofour is not None:
        return (address.sixtofour,)  # RFC 3056 §2
    if (int(address) >> 32) & 0xFDFFFFFF == ISATAP_INTERFACE_ID:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    return ()


def is_public_address(address):
    """Whether a metadata document may be fetched from `address` (a resolved address, as a string):
    a globally routable one, judged for an IPv6 form that embeds an IPv4 address by every IPv4 it
    embeds as well (DOT's own check misses IPv4-compatible ::/96, IPv4-translated and ISATAP)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 4:
        return ip.is_global
    if ip in LOCAL_USE_NAT64:
        return False
    embedded = embedded_ipv4(ip)
    if embedded and (ip.teredo is not None or any(ip in prefix for prefix in IPV4_IN_LOW_32_BITS)):
        # The embedded addresses are where it leads (Python's is_global of these prefixes varies
        # between patch releases).
        return all(ipv4.is_global for ipv4 in embedded)
    return ip.is_global and all(ipv4.is_global for ipv4 in embedded)


class ClientMetadataFetcher(SafeMetadataFetcher):
    """DOT's CIMD_METADATA_FETCHER, with the registration policy on each document it fetches.

    DOT's fetch resolves the host and connects to the addresses it judged, but its judge passes
    IPv6 forms that lead to internal IPv4 addresses (IPv4-compatible ::127.0.0.1 for one). The
    fetch here is DOT's with this module's judge (`is_public`): the host is resolved once, every
    address judged, and the connection made to those very addresses (SNI, certificate and Host
    naming the host), so a second DNS answer cannot rebind it. DOT's URL checks and its reading
    of the answer (type, size, Cache-Control) are used as they are.

    A document's client is public whether it says so or not, as DOT reads it (the CIMD draft allows
    no shared secret). DOT stores its name, redirect URIs and grant; its scopes (what it asks for)
    and ID token algorithm are set when it is first stored (models.Application.save).
    """

    def is_public(self, address):
        return is_public_address(address)

    def resolve(self, hostname, port):
        """The host's addresses, each one public, or CIMDError: one internal address refuses the
        host (as DOT's _resolve_and_validate does), so a mixed answer smuggles nothing in."""
        try:
            infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as error:
            raise CIMDError(f"could not resolve client_id host: {error}") from error
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            if not self.is_public(address):
                raise CIMDError(f"client_id host resolves to a non-public address ({address})")
        if not addresses:
            raise CIMDError("client_id host did not resolve to any address")
        return addresses

    def fetch(self, client_id):
        document, max_age = self.fetch_document(client_id)
        violation = policy_violation({"token_endpoint_auth_method": "none", **document})
        if violation:
            raise CIMDError(f"client metadata document outside the registration policy: {violation[1]}")
        # For models.Application.save, should DOT's resolver store this client now.
        asked_by_document.set((client_id, document.get("scope", "")))
        return document, max_age

    def fetch_document(self, client_id):
        """DOT's SafeMetadataFetcher.fetch, its addresses judged by `is_public`."""
        parsed = cimd._validate_client_id_url(client_id)
        port = parsed.port or 443
        addresses = self.resolve(parsed.hostname, port)
        headers = {"Host": parsed.netloc, "Accept": "application/json, application/*+json"}
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        ssl_context = ssl.create_default_context()
        # One deadline for every address, as DOT's: many addresses hold a worker no longer.
        deadline = time.monotonic() + oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS
        last_error = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            pool = urllib3.HTTPSConnectionPool(
                host=address,
                port=port,
                timeout=urllib3.Timeout(connect=remaining, read=remaining, total=remaining),
                retries=False,
                maxsize=1,
                ssl_context=ssl_context,
                server_hostname=parsed.hostname,
            )
            try:
                response = pool.urlopen("GET", path, headers=headers, redirect=False, preload_content=False)
                try:
                    return self._read_document(response)
                finally:
                    response.release_conn()
            except urllib3.exceptions.HTTPError as error:
                last_error = error
            finally:
                pool.close()
        raise CIMDError(f"could not fetch client_id document: {last_error}")


class RegistrationsPerAddress:
    """CIMD_REGISTRATION_PERMISSION_CLASSES: a metadata document URL no client has yet is a new
    client, made by the address that named it (at the authorization or token endpoint), and counts
    as a registration of that address (THROTTLE_REGISTRATIONS_PER_IP, the counter of the
    registration endpoint) before it is fetched, once per URL and window however often DOT asks;
    over the limit, the client stays unknown. Like registrations, it fails closed while the cache
    is down. A known client's document fetched again counts nothing."""

    def has_permission(self, request, client_id):
        if get_application_model().objects.filter(client_id=client_id).exists():
            return True
        # DOT hands on the oauthlib request, whose headers are the Django request's META.
        origin = SimpleNamespace(META=request.headers)
        try:
            counters = registration_counters(origin)
            if over_limit(counters):
                return False
            address = counters[0][1]
            first_time = cache.add(
                counter_key("cimd-named", f"{address} {client_id}"), True, settings.THROTTLE_WINDOW_SECONDS
            )
            if first_time:
                for kind, value, _limit in counters:
                    record_failure(kind, value)
        except CACHE_ERRORS as error:
            cache_unavailable("registration", error)
            return False
        return True
