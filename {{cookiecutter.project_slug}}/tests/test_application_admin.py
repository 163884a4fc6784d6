"""
The client admin fits the server: it offers only the grants the server serves, lists clients by
name with their grant and kind, and carries the project's name. Code: authserver/application_admin.py,
authserver/admin.py, templates/admin/base_site.html.
"""

import pytest
from django.conf import settings
from django.utils.html import escape

pytestmark = pytest.mark.django_db

CLIENTS = "/admin/oauth/application/"


@pytest.fixture
def staff_client(client, django_user_model, settings):
    settings.ADMIN_REQUIRES_MULTI_FACTOR = False
    client.force_login(django_user_model.objects.create_superuser(username="root", password="unused-pw-1"))
    return client


def form_data(page):
    """What the browser sends back for the admin's change page as shown."""
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    return data


def grant_choices(page):
    return dict(page.context["adminform"].form.fields["authorization_grant_type"].choices)


def test_the_client_form_offers_only_the_grants_the_server_serves(staff_client, application_model):
    offered = grant_choices(staff_client.get(f"{CLIENTS}add/"))
    assert set(offered) == {
        application_model.GRANT_AUTHORIZATION_CODE,
        application_model.GRANT_CLIENT_CREDENTIALS,
        application_model.GRANT_DEVICE_CODE,
    }
    assert set(settings.OAUTH2_PROVIDER["OAUTH2_GRANT_TYPES_SUPPORTED"]) >= {
        "authorization_code",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    }


def test_a_grant_the_server_does_not_serve_is_refused_when_adding(staff_client, application_model):
    page = staff_client.get(f"{CLIENTS}add/")
    data = {
        **form_data(page),
        "name": "legacy",
        "client_type": application_model.CLIENT_PUBLIC,
        "authorization_grant_type": application_model.GRANT_IMPLICIT,
        "redirect_uris": "https://app.example/cb",
    }
    answer = staff_client.post(f"{CLIENTS}add/", data)
    assert answer.status_code == 200
    assert "authorization_grant_type" in answer.context["adminform"].form.errors
    assert not application_model.objects.filter(name="legacy").exists()


def test_a_stored_client_with_another_grant_shows_and_must_change_it_to_save(staff_client, application_model):
    legacy = application_model.objects.create(
        name="legacy",
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_PASSWORD,
        redirect_uris="https://app.example/cb",
    )
    change = f"{CLIENTS}{legacy.pk}/change/"
    page = staff_client.get(change)
    assert page.status_code == 200
    assert "not served by this server" in grant_choices(page)[application_model.GRANT_PASSWORD]
    answer = staff_client.post(change, form_data(page))
    assert answer.status_code == 200
    assert answer.context["adminform"].form.errors["authorization_grant_type"] == [
        "This server does not serve this grant; choose one of the others."
    ]
    legacy.refresh_from_db()
    assert legacy.authorization_grant_type == application_model.GRANT_PASSWORD
    fixed = {**form_data(page), "authorization_grant_type": application_model.GRANT_AUTHORIZATION_CODE}
    assert staff_client.post(change, fixed).status_code == 302
    legacy.refresh_from_db()
    assert legacy.authorization_grant_type == application_model.GRANT_AUTHORIZATION_CODE


def test_the_client_list_links_by_name_with_grant_and_kind(staff_client, application_model, seeded):
    source = application_model.RegistrationSource
    kinds = {
        "web app": ({"client_type": "confidential", "authorization_grant_type": "authorization-code"}, "Web"),
        "spa": ({"client_type": "public", "authorization_grant_type": "authorization-code"}, "Public"),
        "service": (
            {"client_type": "confidential", "authorization_grant_type": "client-credentials"},
            "Service",
        ),
        "api": (
            {
                "client_type": "confidential",
                "authorization_grant_type": "client-credentials",
                "is_resource_server": True,
            },
            "Resource server",
        ),
        "registered": (
            {
                "client_type": "public",
                "authorization_grant_type": "authorization-code",
                "registration_source": source.DCR,
            },
            "Self-registered",
        ),
        "documented": (
            {
                "client_type": "public",
                "authorization_grant_type": "authorization-code",
                "registration_source": source.CIMD,
            },
            "Metadata document",
        ),
    }
    for name, (fields, _kind) in kinds.items():
        application_model.objects.create(name=name, redirect_uris="https://app.example/cb", **fields)
    page = staff_client.get(CLIENTS)
    assert page.status_code == 200
    rows = {row.name: row for row in page.context["cl"].result_list}
    admin = page.context["cl"].model_admin
    for name, (_fields, kind) in kinds.items():
        assert admin.kind(rows[name]) == kind
    html = page.content.decode()
    web_app = rows["web app"]
    assert f'<a href="{CLIENTS}{web_app.pk}/change/">web app</a>' in html
    assert "Authorization code" in html and "Client credentials" in html
    assert "<th" in html and ">Kind<" in html and "Resource server" in html


def test_the_admin_carries_the_projects_name_and_favicon(staff_client):
    page = staff_client.get("/admin/").content.decode()
    # As the page writes it: a name with quotes, & or < is escaped.
    name = escape(settings.PROJECT_NAME)
    assert f"{name} administration" in page
    assert "Django administration" not in page
    assert f"<title>Site administration | {name} admin</title>" in page
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
