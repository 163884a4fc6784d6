"""
The claims this server releases about a user (OpenID Connect Core 1.0 §5), in the ID token and
at UserInfo: the place to add your own.

DOT releases each claim only with its scope (OIDC Core §5.4, `oidc_claim_scope`): profile
claims with `profile`, e-mail with `email`. Add a field to users.User, then a claim here.
https://django-oauth-toolkit.readthedocs.io/en/latest/oidc.html#adding-claims-to-the-id-token
"""

STANDARD_CLAIMS = {
    "name": lambda request: request.user.get_full_name() or request.user.get_username(),
    "given_name": lambda request: request.user.first_name,
    "family_name": lambda request: request.user.last_name,
    "preferred_username": lambda request: request.user.get_username(),
    "email": lambda request: request.user.email,
    # Django does not verify addresses; extend the user model if you do.
    "email_verified": lambda request: False,
}
