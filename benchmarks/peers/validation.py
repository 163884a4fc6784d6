"""The checks every peer passes before it is measured, so that no row counts wrong answers as work."""

import json
import urllib.parse

from throughput import basic, http

from peers import Request


def fail(server, message):
    raise RuntimeError(f"{server.name}: {message}\n{server.tail()}")


def fetch_token(server, request):
    """A real client-credentials token from the peer's token endpoint."""
    status, body = http(server.port, request.method, request.path, request.headers, request.body.encode())
    try:
        token = json.loads(body)["access_token"] if status == 200 else None
    except (ValueError, KeyError):
        token = None
    if not token:
        fail(server, f"the token endpoint answered {status}: {body[:300]!r}")
    return token


def check(server, requests):
    """
    Each request answers 200, introspection says `active: true`, and the resource answers 401
    without a token and with a wrong one.
    """
    for kind, request in requests.items():
        body = request.body.encode() if request.body is not None else None
        status, answer = http(server.port, request.method, request.path, request.headers, body)
        if status != 200:
            fail(server, f"{kind} answered {status}: {answer[:300]!r}")
        if kind == "introspection" and json.loads(answer).get("active") is not True:
            fail(server, f"introspection did not say active: true: {answer[:300]!r}")
    resource = requests["resource"]
    for label, headers in (
        ("without a token", {}),
        ("with a wrong token", {"Authorization": "Bearer not-a-token-it-issued"}),
    ):
        status, answer = http(server.port, resource.method, resource.path, headers)
        if status != 401:
            fail(server, f"the resource answered {status} {label}, not 401: {answer[:300]!r}")


def validated_requests(server, paths, client, resource_server):
    """The three requests measured on a server, each checked as `check` says: a client-credentials
    token request at paths["token"] by `client`, a resource server's introspection of a real token
    it issued at paths["introspection"], and paths["resource"] with that token. `client` and
    `resource_server` are (client_id, secret) pairs; both authenticate with HTTP Basic."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    token_request = Request(
        "POST",
        paths["token"],
        {**form, "Authorization": basic(*client)},
        urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "read"}),
    )
    token = fetch_token(server, token_request)
    requests = {
        "client-credentials": token_request,
        "introspection": Request(
            "POST",
            paths["introspection"],
            {**form, "Authorization": basic(*resource_server)},
            urllib.parse.urlencode({"token": token}),
        ),
        "resource": Request("GET", paths["resource"], {"Authorization": f"Bearer {token}"}),
    }
    check(server, requests)
    return requests
