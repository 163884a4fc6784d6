"""The built-in demo relying party (/demo/): sign-in, refresh, revoke and sign-out against this server."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from .support import query_of

# The browser is on the loopback address the demo client's redirect URI names (any port).
BROWSER_HOST = {"HTTP_HOST": "127.0.0.1:8000"}
DEMO_PATHS = ("/demo/", "/demo/callback/")
DEMO_POSTS = ("/demo/start/", "/demo/refresh/", "/demo/revoke/", "/demo/logout/")


def path_of(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.fixture
def own_server(live_server, settings, seeded):
    """The demo's server-to-server calls go to pytest-django's live server, the issuer pinned to it."""
    settings.OAUTH_ISSUER = live_server.url
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": live_server.url}
    return live_server.url


@pytest.fixture
def demo_signed_in(client, user, own_server):
    """Run the demo's sign-in: start, sign in, consent, back at the callback; return the demo page."""
    client.force_login(user)
    started = client.post("/demo/start/", **BROWSER_HOST)
    assert started.status_code == 302
    consent = client.get(path_of(started["Location"]), **BROWSER_HOST)
    assert consent.status_code == 200 and b"Allow" in consent.content
    params = query_of(started["Location"])
    approved = client.post(path_of(started["Location"]), {**params, "allow": "Authorize"}, **BROWSER_HOST)
    assert approved.status_code == 302
    assert approved["Location"].startswith("http://127.0.0.1:8000/demo/callback/?")
    landed = client.get(path_of(approved["Location"]), **BROWSER_HOST)
    assert landed.status_code == 302 and landed["Location"] == "/demo/"
    return client.get("/demo/", **BROWSER_HOST)


@pytest.mark.django_db
def test_demo_pages_are_off_unless_turned_on(client, settings):
    settings.DEMO_PAGES_ENABLED = False
    for path in DEMO_PATHS:
        response = client.get(path, {"error": "x", "error_description": "Call +1 555 0100"})
        assert response.status_code == 404 and b"555 0100" not in response.content, path
    for path in DEMO_POSTS:
        assert client.post(path).status_code == 404, path


@pytest.mark.django_db
def test_demo_start_keeps_verifier_state_and_nonce_in_the_session(client, own_server, demo_client):
    response = client.post("/demo/start/", **BROWSER_HOST)
    assert response.status_code == 302 and response["Cache-Control"].count("no-store") == 1
    query = query_of(response["Location"])
    pending = client.session["demo_pending"]
    assert query["state"] == pending["state"] and query["nonce"] == pending["nonce"]
    assert query["code_challenge_method"] == "S256" and "code_verifier" not in query
    assert query["client_id"] == demo_client.client_id
    assert query["redirect_uri"] == "http://127.0.0.1:8000/demo/callback/"


@pytest.mark.django_db
def test_demo_buttons_are_csrf_protected_posts(client, seeded):
    guarded = type(client)(enforce_csrf_checks=True)
    for path in DEMO_POSTS:
        assert guarded.post(path, **BROWSER_HOST).status_code == 403, path
        assert client.get(path, **BROWSER_HOST).status_code == 405, path


@pytest.mark.django_db
def test_callback_refuses_an_answer_it_did_not_ask_for(client, seeded):
    response = client.get("/demo/callback/", {"code": "abc", "state": "forged"}, **BROWSER_HOST)
    assert response.status_code == 400 and b'role="alert"' in response.content
    assert b"abc" not in response.content


@pytest.mark.django_db
def test_callback_shows_the_servers_error_escaped(client, own_server):
    state = query_of(client.post("/demo/start/", **BROWSER_HOST)["Location"])["state"]
    answer = {"state": state, "error": "access_denied", "error_description": "<b>no</b>"}
    response = client.get("/demo/callback/", answer, **BROWSER_HOST)
    assert response.status_code == 400
    assert b"access_denied" in response.content and b"&lt;b&gt;no&lt;/b&gt;" in response.content
    assert "demo_pending" not in client.session


@pytest.mark.django_db(transaction=True)
def test_demo_signs_in_and_shows_the_verified_id_token(demo_signed_in, user, own_server):
    page = demo_signed_in.content.decode()
    result = demo_signed_in.context["result"]
    assert result["id_token_claims"]["iss"] == own_server
    assert result["id_token_claims"]["sub"] == str(user.sub)
    assert "nonce matches the one this demo sent" in page
    assert result["userinfo"][0] == 200 and result["userinfo"][1]["sub"] == str(user.sub)
    assert result["resource"][0] == 200 and result["resource"][1]["user"]["username"] == user.username
    # The raw token response is shown, its tokens masked.
    for name in ("access_token", "refresh_token", "id_token"):
        assert result["tokens"][name] not in page
        assert result["response"][name].startswith("••• (sha256:")
    assert demo_signed_in["Cache-Control"].count("no-store") == 1


@pytest.mark.django_db(transaction=True)
def test_demo_refreshes_revokes_and_signs_out(client, demo_signed_in, own_server):
    before = demo_signed_in.context["result"]["tokens"]
    assert client.post("/demo/refresh/", **BROWSER_HOST).status_code == 302
    refreshed = client.get("/demo/", **BROWSER_HOST).context["result"]
    [event] = refreshed["events"]
    assert event["old_refresh_token"] != event["new_refresh_token"]
    assert refreshed["tokens"]["access_token"] != before["access_token"]
    assert refreshed["resource"][0] == 200

    assert client.post("/demo/revoke/", **BROWSER_HOST).status_code == 302
    revoked = client.get("/demo/", **BROWSER_HOST).context["result"]
    assert revoked["events"][-1]["revocation_status"] == 200
    assert revoked["resource"][0] == 401 and revoked["events"][-1]["resource_status"] == 401

    logout = client.post("/demo/logout/", **BROWSER_HOST)
    assert logout.status_code == 302 and "/o/logout/?" in logout["Location"]
    assert query_of(logout["Location"])["post_logout_redirect_uri"] == "http://127.0.0.1:8000/demo/callback/"


@pytest.mark.django_db
def test_demo_says_where_to_open_it_when_its_redirect_uri_cannot_match(client, seeded):
    # "localhost" is not a loopback address for redirect URI matching (RFC 8252 §8.3).
    response = client.get("/demo/", HTTP_HOST="localhost:8000")
    assert response.status_code == 200 and not response.context["redirect_uri_registered"]
    assert b"Or open the demo on 127.0.0.1" in response.content
    assert b"<code>manage.py seed_oauth_clients</code> again" in response.content
    assert client.get("/demo/", HTTP_HOST="127.0.0.1:8123").context["redirect_uri_registered"]


def offer_scopes(settings, scopes):
    """OAUTH_SCOPES as a restart with another .env would make them."""
    settings.OAUTH_APP_SCOPES = scopes
    settings.OAUTH_SCOPES = {**settings.OIDC_SCOPES, **scopes}
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "SCOPES": settings.OAUTH_SCOPES}


@pytest.fixture
def scope_added_after_seeding(settings, seeded):
    offer_scopes(settings, {**settings.OAUTH_APP_SCOPES, "orders:cancel": "Cancel your orders"})


@pytest.mark.django_db(transaction=True)
def test_a_scope_added_after_seeding_leaves_the_demo_working(
    client, scope_added_after_seeding, demo_signed_in
):
    # The demo asks only for what its client may have, and says how to allow the new scope.
    result = demo_signed_in.context["result"]
    assert result["resource"][0] == 200
    assert "orders:cancel" not in result["tokens"]["scope"].split()
    assert demo_signed_in.context["scopes_left_out"] == ["orders:cancel"]
    assert b"seed_oauth_clients" in demo_signed_in.content
    # Seeded again (OAUTH_DEMO_ALLOWED_SCOPES empty): the demo client follows OAUTH_SCOPES.
    call_command("seed_oauth_clients", verbosity=0)
    started = client.post("/demo/start/", **BROWSER_HOST)
    assert "orders:cancel" in query_of(started["Location"])["scope"].split()
    assert client.get("/demo/", **BROWSER_HOST).context["scopes_left_out"] == []


@pytest.mark.django_db
def test_a_scope_removed_after_seeding_is_not_asked_for(client, settings, own_server):
    offer_scopes(
        settings, {name: text for name, text in settings.OAUTH_APP_SCOPES.items() if name != "write"}
    )
    started = client.post("/demo/start/", **BROWSER_HOST)
    assert started.status_code == 302
    assert "write" not in query_of(started["Location"])["scope"].split()


@pytest.fixture
def other_origin():
    """A server on another port of this host, which remembers every request it is sent: where a
    forged Host header would send the demo (its discovery, then the client's secret)."""
    received = []

    class Remember(BaseHTTPRequestHandler):
        def answer(self):
            received.append(f"{self.command} {self.path}")
            self.send_response(404)
            self.end_headers()

        do_GET = do_POST = answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Remember)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
def test_a_forged_host_never_sends_the_demo_to_another_origin(
    client, user, own_server, other_origin, settings
):
    # The demo calls the configured issuer whatever Host the request names; unpinned, it runs not at all.
    forged_host, received = other_origin
    client.force_login(user)
    started = client.post("/demo/start/", HTTP_HOST=forged_host)
    assert started.status_code == 302 and started["Location"].startswith(own_server + "/o/authorize/?")
    state = query_of(started["Location"])["state"]
    answer = client.get(
        "/demo/callback/", {"state": state, "code": "forged", "iss": own_server}, HTTP_HOST=forged_host
    )
    assert answer.status_code == 400 and b"The token endpoint refused" in answer.content
    settings.OAUTH_ISSUER = ""
    unpinned = client.post("/demo/start/", HTTP_HOST=forged_host)
    assert unpinned.status_code == 400 and b"OAUTH_ISSUER" in unpinned.content
    assert received == []
