# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Where a bearer token may travel (RFC 6750 §2, OAuth 2.1 §5.2): for UserInfo and every protected
resource, the sample API and yours.
"""

from .errors import oauth_error


def bearer_token_misplaced(request):
    """
    Why the request carries its bearer token where OAuth 2.1 §5.2 and RFC 6750 §2 allow none,
    or None: in the Authorization header, or else in a single-part form body of a POST (§2.2);
    never in the query string (OAuth 2.1 §5.2, RFC 9700 §4.3.2; DOT's gate answers that with a
    bare 401 at resources and not at all at UserInfo), and by one method only (RFC 6750 §3.1).
    """
    if "access_token" in request.GET:
        return "The access token must not be sent in the query string."
    # Django reads a form body of POST requests only, urlencoded or multipart.
    if "access_token" in request.POST:
        if request.content_type != "application/x-www-form-urlencoded":
            return "An access token in the body is sent as application/x-www-form-urlencoded only."
        if request.headers.get("Authorization", "").partition(" ")[0].lower() == "bearer":
            return "The access token is sent by one method only."
    return None


class BearerTokenTransport:
    """
    Mixin for the views that take a bearer token (UserInfo, protected resources): a token sent
    where it must not be is 400 invalid_request with a Bearer challenge (RFC 6750 §3.1), before
    the token is even looked at.
    """

    def dispatch(self, request, *args, **kwargs):
        problem = bearer_token_misplaced(request)
        if problem:
            challenge = f'Bearer error="invalid_request", error_description="{problem}"'
            return oauth_error("invalid_request", problem, WWW_Authenticate=challenge)
        return super().dispatch(request, *args, **kwargs)
