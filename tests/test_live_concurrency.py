"""One authorization code, or one refresh token, redeemed by many requests at once on a live server.

RFC 6749 §4.1.2 (a code is used once) and RFC 9700 §4.14.2 (a refresh token is used once
when it rotates) must hold when the requests race, on SQLite and on PostgreSQL.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from .live import checked
from .oauth_helpers import authorize, token_request

pytestmark = pytest.mark.slow

RACERS = 12


def race(base_url, env_values, form):
    """POST one token request from RACERS threads released together; return their answers."""
    start = threading.Barrier(RACERS)

    def one():
        start.wait()
        response = token_request(base_url, env_values, **form)
        return response.status_code, response.json()

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(lambda _: one(), range(RACERS)))


def the_one_winner(answers):
    """The tokens of the only request that succeeded; every other one got invalid_grant."""
    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: 1, 400: RACERS - 1}, answers
    assert {body["error"] for status, body in answers if status == 400} == {"invalid_grant"}
    return next(body for status, body in answers if status == 200)


def test_one_code_redeemed_at_once_yields_one_token(any_live_server, env_values):
    code, verifier, redirect_uri = authorize(any_live_server, env_values)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    tokens = the_one_winner(race(any_live_server, env_values, form))
    # RFC 6749 §4.1.2: the other redemptions were uses of a used code, so its tokens are revoked.
    me = checked().get(
        f"{any_live_server}/api/me/", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 401


def test_one_refresh_token_redeemed_at_once_yields_one_rotation(any_live_server, env_values):
    code, verifier, redirect_uri = authorize(any_live_server, env_values)
    response = token_request(
        any_live_server,
        env_values,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    form = {"grant_type": "refresh_token", "refresh_token": response.json()["refresh_token"]}
    rotated = the_one_winner(race(any_live_server, env_values, form))
    # RFC 9700 §4.14.2: the others replayed a rotated token, which revokes the whole family.
    replay = token_request(
        any_live_server, env_values, grant_type="refresh_token", refresh_token=rotated["refresh_token"]
    )
    assert replay.status_code == 400
