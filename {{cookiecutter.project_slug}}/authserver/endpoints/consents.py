# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The user's consents page (/accounts/consents/): the clients they allowed (OIDC Core §3.1.2.4),
each with a (CSRF-protected) form to withdraw, which also revokes what the consent let the client
have (authserver/consent.py).
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from ..consent import withdraw_consent
from ..parameters import has_nul
from ..scopes import describe_scopes
from ..view_policy import PRIVATE_PAGE, declare


@declare(PRIVATE_PAGE)
@method_decorator([never_cache, login_required], name="dispatch")
class ConsentsView(View):
    """The clients the signed-in user allowed, each with a form to withdraw."""

    def get(self, request):
        consents = [
            {
                "application": consent.application,
                "granted_at": consent.granted_at,
                "scopes": describe_scopes(consent.scope.split()),
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
