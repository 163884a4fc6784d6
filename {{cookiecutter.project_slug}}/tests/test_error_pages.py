"""
The error pages a person may meet: each says what happened and gives a next step (a link home,
to sign in again), renders without the request's user or database, and keeps the site's
Content-Security-Policy. At DEBUG only, Django's own technical pages may use their inline styles.
"""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path

from config import urls as site_urls

pytestmark = pytest.mark.django_db


def a_bug(request):
    raise RuntimeError("a bug, not an outage")


def forbidden(request):
    raise PermissionDenied


urlpatterns = [path("bug/", a_bug), path("forbidden/", forbidden), *site_urls.urlpatterns]
handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500


@pytest.fixture
def with_failing_views(settings):
    settings.ROOT_URLCONF = __name__


def directives(response):
    policy = response["Content-Security-Policy"]
    return dict((part.split(" ", 1) + [""])[:2] for part in (item.strip() for item in policy.split(";")))


def assert_error_page(response, status, heading, next_step):
    page = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert f"<h1>{heading}</h1>" in page
    assert f'id="next-step" href="{next_step}"' in page
    assert "style-src" not in directives(response)
    assert response["Cache-Control"] == "no-store"


def test_a_page_that_is_not_there_says_so_and_links_home(client):
    assert_error_page(client.get("/no-such-page/"), 404, "Page not found", "/")


def test_a_request_django_cannot_read_links_home(client):
    # More fields than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django refuses to read the query.
    too_many = {f"field{number}": "x" for number in range(1001)}
    assert_error_page(client.get("/accounts/login/", too_many), 400, "This request could not be read", "/")


def test_a_form_without_its_csrf_token_says_so_and_offers_to_sign_in_again(user):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"login": user.username})
    assert_error_page(response, 403, "This form has expired", "/accounts/login/")
    # Django's reason, which names no secret.
    assert "CSRF cookie not set." in response.content.decode()


def test_a_page_refused_offers_to_sign_in(with_failing_views, client):
    assert_error_page(client.get("/forbidden/"), 403, "You cannot open this page", "/accounts/login/")


def test_a_server_error_links_home(with_failing_views):
    response = Client(raise_request_exception=False).get("/bug/")
    assert_error_page(response, 500, "Something went wrong", "/")


def test_an_error_page_falls_back_to_plain_paths_without_the_site_urls(settings):
    # An owner's URL conf without the home page or the sign-in: the error page still renders.
    settings.ROOT_URLCONF = "tests.test_outages"
    response = Client(raise_request_exception=False).get("/bug")
    assert_error_page(response, 500, "Something went wrong", "/")


def test_the_production_policy_allows_no_inline_style_on_any_error_page(with_failing_views, client):
    # DEBUG is off here, as in production.
    for response in (client.get("/no-such-page/"), Client(raise_request_exception=False).get("/bug/")):
        assert "style-src" not in directives(response)
        assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_at_debug_only_django_technical_pages_may_use_their_inline_styles(
    with_failing_views, client, settings
):
    settings.DEBUG = True
    technical_404 = client.get("/no-such-page/")
    technical_500 = Client(raise_request_exception=False).get("/bug/")
    for response in (technical_404, technical_500):
        assert b"<style>" in response.content
        assert directives(response)["style-src"] == "'self' 'unsafe-inline'"
        # Scripts stay as strict as ever.
        assert "script-src" not in directives(response)
    # The site's own pages get nothing more at DEBUG.
    home = client.get("/")
    assert home.status_code == 200 and "style-src" not in directives(home)
