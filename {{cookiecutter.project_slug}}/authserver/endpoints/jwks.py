# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The JSON Web Key Set (RFC 7517, OIDC Core §10.1): the public keys ID tokens and JWT access tokens
are signed with, the active one and those still published (signing_keys.py).
"""

from oauth2_provider import views as oauth2_views

from ..view_policy import METADATA, declare


@declare(METADATA)
class JwksView(oauth2_views.JwksInfoView):
    """DOT's JWKS."""
