# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The address a request comes from, as the brute-force limits count it (middleware/throttling.py)
and allauth's see it (accounts.py): behind a proxy, only the header a trusted proxy sets.
"""

import ipaddress

from django.conf import settings


def client_address(request):
    """The client's IP address: behind a proxy, THROTTLE_IP_HEADER names the header it sets; its
    last entry is the address the proxy itself saw, which the client cannot forge. A client that
    reaches the server directly could write anything there: the header counts only from a
    trusted proxy (FORWARDED_ALLOW_IPS)."""
    peer = request.META.get("REMOTE_ADDR", "")
    trusted = settings.THROTTLE_TRUSTED_PROXIES
    if settings.THROTTLE_IP_HEADER == "REMOTE_ADDR" or not ("*" in trusted or peer in trusted):
        return peer
    return request.META.get(settings.THROTTLE_IP_HEADER, "").rsplit(",", 1)[-1].strip() or peer


def client_ip(request):
    """What the limits count by: the client's address, an IPv6 /64 as one."""
    address = client_address(request)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        # One IPv6 host or site holds a whole /64 at least (RFC 6177 §3): it counts as one address.
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address
