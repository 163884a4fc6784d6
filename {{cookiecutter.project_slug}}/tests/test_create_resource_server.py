"""
`manage.py create_resource_server`: one command makes a resource server's URL a resource this
server knows (RFC 8707) and gives it introspection credentials bound to that URL (RFC 7662), in
the database, as the admin shows and edits them. Code: authserver/management/commands/
create_resource_server.py, authserver/resources.py, authserver/models.py (Application.clean).
"""

import re

import pytest
from django.core.management import CommandError, call_command
from oauthlib.common import Request

from authserver.resources import check_resources

from .support import Credentials, token_request

pytestmark = pytest.mark.django_db

MCP_URL = "https://mcp.example.com/mcp"
CLIENTS = "/admin/oauth/application/"


def create(capsys, *args):
    """Run the command; return the settings it printed, as a dict."""
    call_command("create_resource_server", *args)
    return dict(re.findall(r"^([a-z_]+)=(\S+)$", capsys.readouterr().out, re.M))


def introspect(client, credentials, token):
    return client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=credentials.basic_auth)


def token_for(client, m2m_client, resource):
    answer = token_request(client, m2m_client, grant_type="client_credentials", resource=resource)
    assert answer.status_code == 200, answer.content
    return answer.json()["access_token"]


def test_one_command_makes_a_known_resource_and_its_introspection_credentials(client, m2m_client, capsys):
    """Not in OAUTH_RESOURCES: before, a token for it is invalid_target; after, a token bound to it
    is active for its resource server, and a token bound to another resource is not."""
    before = token_request(client, m2m_client, grant_type="client_credentials", resource=MCP_URL)
    assert before.json()["error"] == "invalid_target"
    printed = create(capsys, "--name=Orders MCP", f"--url={MCP_URL}")
    resource_server = Credentials(printed["client_id"], printed["client_secret"])
    answer = introspect(client, resource_server, token_for(client, m2m_client, MCP_URL)).json()
    assert (answer["active"], answer["aud"]) == (True, [MCP_URL])
    elsewhere = token_for(client, m2m_client, "https://api.example.com/")
    assert introspect(client, resource_server, elsewhere).json() == {"active": False}


def test_it_prints_the_settings_the_resource_server_needs(client, capsys, settings, application_model):
    settings.OAUTH_ISSUER = "http://testserver"
    printed = create(capsys, "--name=Orders MCP", f"--url={MCP_URL}")
    assert printed["issuer"] == "http://testserver"
    assert printed["resource"] == MCP_URL
    metadata = client.get(printed["authorization_server_metadata"].removeprefix("http://testserver")).json()
    assert metadata["issuer"] == printed["issuer"]
    assert metadata["introspection_endpoint"] == printed["introspection_endpoint"]
    stored = application_model.objects.get(client_id=printed["client_id"])
    assert (stored.name, stored.is_resource_server, stored.resource_uris) == ("Orders MCP", True, MCP_URL)
    assert stored.client_secret != printed["client_secret"], "stored hashed"


@pytest.mark.parametrize("scope", [None, "read", "openid"])
def test_its_credentials_get_no_token(client, capsys, scope):
    """It needs no token to introspect: the token endpoint refuses it every scope."""
    printed = create(capsys, "--name=Orders MCP", f"--url={MCP_URL}")
    credentials = Credentials(printed["client_id"], printed["client_secret"])
    answer = token_request(
        client, credentials, grant_type="client_credentials", **({"scope": scope} if scope else {})
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_scope")


@pytest.mark.parametrize(
    "url",
    [
        "mcp.example.com/mcp",
        "/mcp",
        "https://mcp.example.com/mcp#tools",
        "https://user@mcp.example.com/mcp",
        # http on another host than loopback, even where the settings allow http.
        "http://mcp.example.com/mcp",
        "ftp://mcp.example.com/mcp",
    ],
)
def test_a_url_that_is_no_resource_indicator_creates_nothing(application_model, url):
    with pytest.raises(CommandError, match="not created: Not an absolute https URI"):
        call_command("create_resource_server", "--name=Bad", f"--url={url}")
    assert not application_model.objects.exists()


def test_http_on_loopback_only_where_the_settings_allow_http(application_model, capsys, settings):
    """As redirect URIs: local settings allow http on loopback; production's https only does not."""
    create(capsys, "--name=Local MCP", "--url=http://127.0.0.1:8001/mcp")
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ALLOWED_REDIRECT_URI_SCHEMES": ["https"]}
    with pytest.raises(CommandError, match="not created"):
        call_command("create_resource_server", "--name=Other", "--url=http://127.0.0.1:8002/mcp")
    assert list(application_model.objects.values_list("name", flat=True)) == ["Local MCP"]


def test_a_url_another_resource_server_serves_creates_nothing(application_model, capsys):
    printed = create(capsys, "--name=Orders MCP", f"--url={MCP_URL}")
    with pytest.raises(
        CommandError,
        match=f"already served by the resource server 'Orders MCP' \\(client_id {printed['client_id']}\\)",
    ):
        call_command("create_resource_server", "--name=Copy", f"--url={MCP_URL}")
    assert application_model.objects.count() == 1


def test_a_disabled_resource_server_serves_no_resource(client, m2m_client, capsys, application_model):
    printed = create(capsys, "--name=Orders MCP", f"--url={MCP_URL}")
    application_model.objects.filter(client_id=printed["client_id"]).update(is_disabled=True)
    answer = token_request(client, m2m_client, grant_type="client_credentials", resource=MCP_URL)
    assert answer.json()["error"] == "invalid_target"


def test_a_request_naming_no_resource_costs_no_query(django_assert_num_queries):
    """The token endpoint's hot path: the resource servers are looked up only for a named resource."""
    request = Request("http://testserver/o/token/", http_method="POST", body="grant_type=client_credentials")
    with django_assert_num_queries(0):
        assert check_resources(request) == {}


def test_a_resource_on_this_servers_origin_has_its_metadata_here(client, capsys):
    """RFC 9728 §3.1: a resource served by this project (an MCP server mounted at /mcp) publishes its
    metadata at this origin's /.well-known/oauth-protected-resource/mcp, naming this issuer."""
    create(capsys, "--name=Own MCP", "--url=https://testserver/mcp")
    document = client.get("/.well-known/oauth-protected-resource/mcp", secure=True).json()
    assert document["resource"] == "https://testserver/mcp"
    assert document["authorization_servers"] == ["https://testserver"]


@pytest.fixture
def staff_client(client, django_user_model, settings):
    settings.ADMIN_REQUIRES_MULTI_FACTOR = False
    client.force_login(django_user_model.objects.create_superuser(username="root", password="unused-pw-1"))
    return client


def changed_in_admin(staff_client, application, **changes):
    """Post the admin's change form for `application` as shown, with `changes`."""
    change = f"{CLIENTS}{application.pk}/change/"
    form = staff_client.get(change).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {
        name: ("on" if value is True else value) for name, value in data.items() if value not in (None, False)
    }
    return staff_client.post(change, {**data, **changes})


def test_the_admin_shows_and_edits_its_resource(staff_client, m2m_client, capsys, application_model):
    printed = create(capsys, "--name=Orders MCP", f"--url={MCP_URL}")
    resource_server = application_model.objects.get(client_id=printed["client_id"])
    page = staff_client.get(f"{CLIENTS}{resource_server.pk}/change/")
    assert page.context["adminform"].form["resource_uris"].value() == MCP_URL
    moved = "https://mcp.example.com/v2/mcp"
    assert changed_in_admin(staff_client, resource_server, resource_uris=moved).status_code == 302
    assert (
        token_request(staff_client, m2m_client, grant_type="client_credentials", resource=moved).status_code
        == 200
    )
    gone = token_request(staff_client, m2m_client, grant_type="client_credentials", resource=MCP_URL)
    assert gone.json()["error"] == "invalid_target"


@pytest.mark.parametrize(
    ("uris", "message"),
    [
        ("http://mcp.example.com/mcp", "Not an absolute https URI"),
        ("https://mcp.example.com/mcp#x", "Not an absolute https URI"),
        ("https://other.example.net/mcp", "already served by the resource server &#x27;Other MCP&#x27;"),
    ],
)
def test_the_admin_refuses_what_the_command_refuses(staff_client, capsys, application_model, uris, message):
    create(capsys, "--name=Other MCP", "--url=https://other.example.net/mcp")
    printed = create(capsys, "--name=Orders MCP", f"--url={MCP_URL}")
    resource_server = application_model.objects.get(client_id=printed["client_id"])
    answer = changed_in_admin(staff_client, resource_server, resource_uris=uris)
    assert answer.status_code == 200
    assert message in answer.content.decode()
    assert application_model.objects.get(pk=resource_server.pk).resource_uris == MCP_URL
