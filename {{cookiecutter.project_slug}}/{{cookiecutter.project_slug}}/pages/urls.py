from django.urls import path

from . import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("demo/callback/", views.demo_callback, name="demo-callback"),
]
