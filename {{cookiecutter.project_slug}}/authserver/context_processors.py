# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
import ipaddress

from django.conf import settings
from django.http.request import split_domain_port

# The pages that offer passkeys (allauth's URL names): where WebAuthn cannot work, they say why.
PASSKEY_PAGES = {
    "account_login",
    "mfa_index",
    "mfa_add_webauthn",
    "mfa_list_webauthn",
    "mfa_signup_webauthn",
    "mfa_login_webauthn",
    "mfa_reauthenticate_webauthn",
}


def server(request):
    """What every page shows: the project's name, and whether anyone may sign up."""
    return {"server_name": settings.PROJECT_NAME, "signups_open": settings.ACCOUNT_ALLOW_SIGNUPS}


def passkeys(request):
    """
    Why passkeys cannot work on this page's origin, if they cannot: browsers refuse WebAuthn on
    an IP address (its relying party id must be a domain name), and on http anywhere but
    localhost. Said on the page itself, because the browser only logs a SecurityError.
    """
    match = getattr(request, "resolver_match", None)
    if "webauthn" not in settings.MFA_SUPPORTED_TYPES or not match or match.url_name not in PASSKEY_PAGES:
        return {}
    domain, port = split_domain_port(request.get_host())
    try:
        address = ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        address = None
    if address is not None and address.is_loopback:
        localhost = f"http://localhost{':' + port if port else ''}{request.get_full_path()}"
        return {"passkey_problem": "ip_address", "passkey_localhost_url": localhost}
    if address is not None:
        return {"passkey_problem": "ip_address"}
    if not request.is_secure() and domain != "localhost" and not domain.endswith(".localhost"):
        return {"passkey_problem": "needs_https"}
    return {}
