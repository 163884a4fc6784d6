from django.db import transaction
from django.urls import path

from . import views

urlpatterns = [
    # Read-only: no request transaction, whose SQLite write lock would make requests queue
    # (see README, "Performance"). A view of yours that writes must stay atomic.
    path("me/", transaction.non_atomic_requests(views.MeView.as_view()), name="api-me"),
]
