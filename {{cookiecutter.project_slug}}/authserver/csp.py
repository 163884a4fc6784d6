# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The Content-Security-Policy of each answer: CONTENT_SECURITY_POLICY in settings, with what the
view's policy adds (view_policy.py) and the form-action sources a page's forms lead to.

Its form-action lets forms submit to this site only, but a form's answer may redirect on to a
client (the consent page to the redirect URI, the logout page to the post-logout URI), and
browsers check form-action on those redirects too (CSP Level 3 §6.3.1): the views that render
such forms call allow_form_action() with the URI they were asked to redirect to, once it is
known to be registered for the client. middleware/security_headers.py sends the header.

At DEBUG only, Django's own error pages (the technical 404 and 500, which style themselves with
inline <style> blocks) may use inline styles, so that they are readable; no other page, and never
with DEBUG off (production), gets that.
"""

from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.urls import reverse
from oauth2_provider.models import get_application_model

from .parameters import has_nul

# What Django's technical error pages (django/views/templates/technical_404.html, technical_500.html)
# carry in their <head>, and no page of this site does.
TECHNICAL_PAGE_MARK = b'<meta name="robots" content="NONE,NOARCHIVE">'

# Characters that would end a source expression or a directive.
POLICY_SYNTAX = set(" ;,'\"\t\r\n")


def allow_form_action(request, uri):
    """Let the forms of this request's page lead to `uri`'s origin."""
    parts = urlsplit(uri or "")
    source = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
    if parts.scheme and not POLICY_SYNTAX.intersection(source):
        vars(request).setdefault("form_action_sources", set()).add(source)


def registered_redirect_uri(authorization_url):
    """The redirect URI an authorization request at `authorization_url` will answer, if registered."""
    parts = urlsplit(authorization_url or "")
    if parts.path != reverse("oauth2_provider:authorize"):
        return None
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    client_id = query.get("client_id", "")
    if has_nul(client_id):
        return None
    application = get_application_model().objects.filter(client_id=client_id).first()
    if application is None:
        return None
    redirect_uri = query.get("redirect_uri") or application.default_redirect_uri
    return redirect_uri if application.redirect_uri_allowed(redirect_uri) else None


def is_technical_error_page(response):
    """Whether `response` is Django's DEBUG page for an error (never with DEBUG off)."""
    return (
        settings.DEBUG
        and response.status_code >= 400
        and not getattr(response, "streaming", False)
        and response.get("Content-Type", "").startswith("text/html")
        and TECHNICAL_PAGE_MARK in response.content[:1000]
    )


def content_security_policy(request, policy, inline_styles=False):
    directives = {name: list(sources) for name, sources in settings.CONTENT_SECURITY_POLICY.items()}
    if inline_styles:
        directives["style-src"] = [*directives.get("style-src", directives["default-src"]), "'unsafe-inline'"]
    if policy.data_images:
        directives["img-src"] = [*directives.get("img-src", directives["default-src"]), "data:"]
    directives["form-action"] = [
        *directives.get("form-action", []),
        *sorted(getattr(request, "form_action_sources", ())),
    ]
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())
