from django.urls import path

from . import demo, health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # The built-in demo relying party (local settings only: DEMO_PAGES_ENABLED).
    path("demo/", demo.home, name="demo"),
    path("demo/start/", demo.start, name="demo-start"),
    path("demo/callback/", demo.callback, name="demo-callback"),
    path("demo/refresh/", demo.refresh, name="demo-refresh"),
    path("demo/revoke/", demo.revoke, name="demo-revoke"),
    path("demo/logout/", demo.logout, name="demo-logout"),
]
