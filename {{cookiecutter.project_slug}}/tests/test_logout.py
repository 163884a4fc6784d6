"""OIDC RP-Initiated Logout 1.0."""

import pytest
from oauth2_provider.models import get_access_token_model

from .support import DEMO_REDIRECT_URI, query_of

pytestmark = pytest.mark.django_db


def test_logout_asks_then_signs_out_and_returns_to_the_client(client, authorize, exchange):
    # RP-Initiated Logout 1.0 §2 (ask the user) and §3 (back to the registered URI, with state).
    request, code = authorize()
    id_token = exchange(request, code).json()["id_token"]
    params = {"id_token_hint": id_token, "post_logout_redirect_uri": DEMO_REDIRECT_URI, "state": "bye"}

    confirm = client.get("/o/logout/", params)
    assert confirm.status_code == 200
    assert b"demo web app" in confirm.content

    response = client.post("/o/logout/", {**params, "allow": "Logout"})
    assert response.status_code == 302
    assert response["Location"].startswith(DEMO_REDIRECT_URI)
    assert query_of(response["Location"])["state"] == "bye"
    assert not client.get("/").context["user"].is_authenticated
    assert not get_access_token_model().objects.exists()


def test_logout_refuses_an_unregistered_redirect(client, authorize, exchange):
    # RP-Initiated Logout 1.0 §3: never to a post_logout_redirect_uri that is not registered.
    request, code = authorize()
    id_token = exchange(request, code).json()["id_token"]
    response = client.get(
        "/o/logout/", {"id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/"}
    )
    assert response.status_code == 400
    assert client.get("/").context["user"].is_authenticated


def test_logout_with_an_unknown_client_is_an_error_page(client, signed_in):
    """RP-Initiated Logout 1.0 §4: a request that does not validate is refused, not followed (DOT: 500)."""
    response = client.get(
        "/o/logout/", {"client_id": "no-such-client", "post_logout_redirect_uri": DEMO_REDIRECT_URI}
    )
    assert response.status_code == 400
    assert "Location" not in response
    assert client.get("/").context["user"].is_authenticated
