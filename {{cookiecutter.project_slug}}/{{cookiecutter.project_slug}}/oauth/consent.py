"""
Remembered consent (OIDC Core §3.1.2.4): what a user allowed a client on the consent page.

Asked again for the same scopes or fewer, the user is not asked again, so that prompt=none
answers a returning user with a code (OIDC Core §3.1.2.1). prompt=consent, or a client set to
always ask (`Application.always_ask_consent`), shows the consent page all the same. The user
sees the clients they allowed at /accounts/consents/ and can withdraw consent there, which
also revokes that client's codes and tokens for the user: nothing outlives the consent.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model
from oauth2_provider.scopes import get_scopes_backend

from .common import has_nul
from .models import Consent


def remember_consent(user, application, scopes):
    """Record that the user allowed `scopes`, on top of what they allowed the client before."""
    consent, _ = Consent.objects.select_for_update().get_or_create(
        user=user, application=application, defaults={"scope": ""}
    )
    consent.scope = " ".join(sorted(set(consent.scope.split()) | set(scopes)))
    consent.save()


def consent_on_record(user, application, scopes):
    """Whether the user has allowed the client every one of `scopes` (and it may skip asking)."""
    if application.always_ask_consent:
        return False
    allowed = (
        Consent.objects.filter(user=user, application=application).values_list("scope", flat=True).first()
    )
    return allowed is not None and set(scopes) <= set(allowed.split())


def withdraw_consent(user, application):
    """Forget the consent and revoke what it let the client have: codes, access and refresh tokens."""
    Consent.objects.filter(user=user, application=application).delete()
    get_grant_model().objects.filter(user=user, application=application).delete()
    for refresh_token in get_refresh_token_model().objects.filter(
        user=user, application=application, revoked__isnull=True
    ):
        refresh_token.revoke()
    for access_token in get_access_token_model().objects.filter(user=user, application=application):
        access_token.revoke()


@method_decorator([never_cache, login_required], name="dispatch")
class ConsentsView(View):
    """The clients the signed-in user allowed, each with a (CSRF-protected) form to withdraw."""

    def get(self, request):
        descriptions = get_scopes_backend().get_all_scopes()
        consents = [
            {
                "application": consent.application,
                "granted_at": consent.granted_at,
                "scopes": [descriptions.get(scope, scope) for scope in consent.scope.split()],
            }
            for consent in request.user.consents.select_related("application").order_by("application__name")
        ]
        return render(request, "consents.html", {"consents": consents})

    def post(self, request):
        client_id = request.POST.get("client_id", "")
        if has_nul(client_id):
            raise Http404("No such consent.")
        consent = get_object_or_404(request.user.consents, application__client_id=client_id)
        withdraw_consent(request.user, consent.application)
        return redirect("consents")
