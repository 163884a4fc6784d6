"""`manage.py create_oauth_client`: a server's real clients, from flags, with generated credentials,
the scopes they may have, and the settings to paste into them."""

import re
import shlex
import subprocess

import pytest
from django.core.management import CommandError, call_command, load_command_class

from .support import (
    DEMO_REDIRECT_URI,
    PASSWORD,
    AuthorizationRequest,
    Credentials,
    enter_user_code,
    poll_for_device_token,
    query_of,
    start_device_flow,
    verify_id_token,
)

pytestmark = pytest.mark.django_db


def create(capsys, *args):
    call_command("create_oauth_client", *args)
    out = capsys.readouterr().out
    return dict(re.findall(r"^(client_id|client_secret)=(\S+)$", out, re.M)), out


@pytest.fixture
def https_only(settings):
    """Production's rule for redirect URIs."""
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ALLOWED_REDIRECT_URI_SCHEMES": ["https"]}


def test_a_web_client_gets_https_redirect_uris_and_a_secret_shown_once(
    client, application_model, https_only, capsys
):
    credentials, out = create(
        capsys,
        "--name=Shop",
        "--grant=authorization-code",
        "--redirect-uri=https://shop.example/callback",
        "--redirect-uri=https://shop.example/other",
        "--post-logout-redirect-uri=https://shop.example/",
    )
    assert "stored hashed" in out
    shop = application_model.objects.get(client_id=credentials["client_id"])
    assert shop.redirect_uris == "https://shop.example/callback https://shop.example/other"
    assert shop.client_type == application_model.CLIENT_CONFIDENTIAL
    assert shop.algorithm == application_model.RS256_ALGORITHM
    assert shop.client_secret != credentials["client_secret"], "stored hashed"


def test_a_machine_client_authenticates_with_the_printed_secret(client, capsys):
    credentials, _ = create(capsys, "--name=Reports", "--grant=client-credentials")
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=Credentials(credentials["client_id"], credentials["client_secret"]).basic_auth,
    )
    assert response.status_code == 200, response.content


def test_an_http_redirect_uri_where_https_is_required_creates_nothing(application_model, https_only):
    with pytest.raises(CommandError, match="invalid, nothing created"):
        call_command(
            "create_oauth_client",
            "--name=Shop",
            "--grant=authorization-code",
            "--redirect-uri=http://shop.example/callback",
        )
    assert not application_model.objects.exists()


def test_a_public_client_has_no_secret(application_model, capsys):
    credentials, _ = create(
        capsys,
        "--name=App",
        "--grant=authorization-code",
        "--public",
        "--redirect-uri=https://app.example/cb",
    )
    assert "client_secret" not in credentials
    assert application_model.objects.get().client_type == application_model.CLIENT_PUBLIC


def test_a_public_machine_client_is_refused(application_model):
    with pytest.raises(CommandError, match="cannot be public"):
        call_command("create_oauth_client", "--name=M", "--grant=client-credentials", "--public")
    assert not application_model.objects.exists()


def printed_settings(out):
    """The KEY=value lines, as a shell reads them."""
    lines = [line for line in out.splitlines() if re.match(r"^[a-z_]+=", line)]
    names = [line.split("=", 1)[0] for line in lines]
    script = "\n".join([*lines, *(f'printf "%s=%s\\n" {name} "${name}"' for name in names)])
    shell = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in shell.stdout.splitlines())


def test_scopes_are_repeatable_and_space_separated_and_printed_to_ask_for(application_model, capsys):
    credentials, out = create(
        capsys,
        "--name=Shop",
        "--grant=authorization-code",
        "--redirect-uri=https://shop.example/callback",
        "--scope=openid profile",
        "--scope",
        "write openid",
    )
    shop = application_model.objects.get(client_id=credentials["client_id"])
    assert shop.allowed_scopes == "openid profile write"
    assert "It may be granted: openid profile write." in out
    assert printed_settings(out)["scope"] == "openid profile write"


def test_without_scope_it_says_the_client_gets_the_default_scopes_only(application_model, capsys):
    _, out = create(capsys, "--name=Reports", "--grant=client-credentials")
    assert application_model.objects.get().allowed_scopes == ""
    assert "only the default scopes (OAUTH_DEFAULT_SCOPES): read" in out
    assert "this server offers openid profile email read write" in out
    assert printed_settings(out)["scope"] == "read"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--grant=client-credentials", "--scope=read delete"],
            "Unknown scope delete: this server offers openid",
        ),
        (["--grant=client-credentials", "--scope=read", "--scope=openid"], "never gets openid"),
        (
            ["--grant=authorization-code", "--redirect-uri=https://a.example/cb", "--scope=admin"],
            "Unknown scope admin",
        ),
    ],
)
def test_a_scope_the_client_can_never_have_creates_nothing(application_model, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_oauth_client", "--name=Bad", *args)
    assert not application_model.objects.exists()


def test_a_granted_scope_outside_the_allowed_ones_is_refused_at_the_token_endpoint(client, capsys):
    credentials, _ = create(capsys, "--name=Reports", "--grant=client-credentials", "--scope=write")
    machine = Credentials(credentials["client_id"], credentials["client_secret"])
    allowed = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "write"},
        HTTP_AUTHORIZATION=machine.basic_auth,
    )
    assert allowed.status_code == 200, allowed.content
    refused = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=machine.basic_auth,
    )
    assert refused.json()["error"] == "invalid_scope"


@pytest.fixture
def first_party_app(capsys, request):
    """A web app made with the command, --skip-consent or not (the test's parameter)."""
    credentials, _ = create(
        capsys,
        "--name=Our own app",
        "--grant=authorization-code",
        f"--redirect-uri={DEMO_REDIRECT_URI}",
        "--scope=openid read",
        *(["--skip-consent"] if request.param else []),
    )
    return Credentials(credentials["client_id"], credentials["client_secret"])


@pytest.mark.parametrize("first_party_app", [True], indirect=True)
def test_skip_consent_issues_the_code_without_the_consent_page(client, signed_in, first_party_app, user):
    """DOT's skip_authorization, through /o/authorize/: the signed-in user goes straight back
    to the client with a code, which redeems for tokens for that user."""
    request = AuthorizationRequest(first_party_app.client_id, scope="openid read")
    answer = client.get(request.url)
    assert answer.status_code == 302, answer.content
    assert answer["Location"].startswith(DEMO_REDIRECT_URI)
    code = query_of(answer["Location"])["code"]
    tokens = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
        },
        HTTP_AUTHORIZATION=first_party_app.basic_auth,
    )
    assert tokens.status_code == 200, tokens.content
    assert verify_id_token(client, tokens.json()["id_token"])["sub"] == str(user.sub)


@pytest.mark.parametrize("first_party_app", [False], indirect=True)
def test_without_skip_consent_the_user_is_asked(client, signed_in, first_party_app):
    answer = client.get(AuthorizationRequest(first_party_app.client_id, scope="openid read").url)
    assert answer.status_code == 200
    assert b'name="allow"' in answer.content


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grant=authorization-code", "--public", "--redirect-uri=http://127.0.0.1/cb"], r"RFC 8252 §8\.6"),
        (["--grant=device-code", "--public"], r"RFC 8252 §8\.6"),
        (["--grant=client-credentials"], "no consent page to skip"),
        (["--grant=device-code"], "no consent page to skip"),
    ],
)
def test_skip_consent_is_refused_where_it_cannot_be_trusted_or_means_nothing(
    application_model, args, message
):
    with pytest.raises(CommandError, match=message):
        call_command("create_oauth_client", "--name=Bad", "--skip-consent", *args)
    assert not application_model.objects.exists()


@pytest.mark.parametrize(
    ("args", "endpoints"),
    [
        (
            [
                "--grant=authorization-code",
                "--redirect-uri=https://a.example/cb",
                "--redirect-uri=https://a.example/2",
            ],
            {"authorization_endpoint": "/o/authorize/", "token_endpoint": "/o/token/"},
        ),
        (
            ["--grant=device-code", "--public"],
            {"device_authorization_endpoint": "/o/device-authorization/", "token_endpoint": "/o/token/"},
        ),
        (["--grant=client-credentials"], {"token_endpoint": "/o/token/"}),
    ],
)
def test_it_prints_the_settings_to_paste_into_the_client(capsys, settings, args, endpoints):
    """KEY=value lines a shell reads: where the server is, the endpoints of the client's grant, its
    credentials, its redirect URIs, the scope to ask for."""
    settings.OAUTH_ISSUER = "https://id.example.com"
    credentials, out = create(capsys, "--name=App", *args)
    printed = printed_settings(out)
    assert printed["issuer"] == "https://id.example.com"
    assert printed["discovery_url"] == "https://id.example.com/.well-known/openid-configuration"
    for key, path in endpoints.items():
        assert printed.pop(key) == "https://id.example.com" + path
    assert not {key for key in printed if key.endswith("_endpoint")}, "only the grant's endpoints"
    assert printed["client_id"] == credentials["client_id"]
    assert printed.get("client_secret") == credentials.get("client_secret")
    if "--grant=authorization-code" in args:
        assert printed["redirect_uris"] == "https://a.example/cb https://a.example/2"


def test_the_discovery_document_names_the_printed_endpoints(client, capsys, settings):
    settings.OAUTH_ISSUER = "http://testserver"
    _, out = create(capsys, "--name=App", "--grant=authorization-code", "--redirect-uri=https://a.example/cb")
    printed = printed_settings(out)
    document = client.get(printed["discovery_url"].removeprefix("http://testserver")).json()
    assert document["issuer"] == printed["issuer"]
    assert document["authorization_endpoint"] == printed["authorization_endpoint"]
    assert document["token_endpoint"] == printed["token_endpoint"]


def test_an_unset_issuer_is_said_and_the_urls_show_where_it_goes(capsys):
    _, out = create(capsys, "--name=Reports", "--grant=client-credentials")
    assert "OAUTH_ISSUER is not set" in out
    assert printed_settings(out)["token_endpoint"] == "<origin>/o/token/"


def help_examples():
    """The commands --help shows under its examples, continuation lines joined."""
    parser = load_command_class("authserver", "create_oauth_client").create_parser(
        "manage.py", "create_oauth_client"
    )
    examples = parser.format_help().split("examples:", 1)[1].replace("\\\n", " ")
    return [line.strip() for line in examples.splitlines() if line.strip().startswith("python manage.py")]


def test_help_shows_a_working_command_for_each_kind_of_client(application_model, capsys):
    """--help's examples: a web app, a single-page app, a CLI, a device, a backend service; each creates its client."""
    examples = help_examples()
    assert len(examples) == 5
    for example in examples:
        call_command(*shlex.split(example)[2:])
    kinds = {
        (
            app.client_type,
            app.authorization_grant_type,
            app.redirect_uris.split("/")[2] if app.redirect_uris else "",
        )
        for app in application_model.objects.all()
    }
    code, public, confidential = application_model.GRANT_AUTHORIZATION_CODE, "public", "confidential"
    assert kinds == {
        (confidential, code, "shop.example.com"),
        (public, code, "shop.example.com"),
        (public, code, "127.0.0.1"),
        (public, application_model.GRANT_DEVICE_CODE, ""),
        (confidential, application_model.GRANT_CLIENT_CREDENTIALS, ""),
    }


def test_a_device_client_with_openid_reads_its_users_claims(client, user, capsys):
    """--help's device example: allowed openid, the device's token reads UserInfo for its user."""
    credentials, _ = create(capsys, "--name=TV", "--grant=device-code", "--public", "--scope=openid read")
    tv = credentials["client_id"]
    codes = start_device_flow(client, client_id=tv, scope="openid read").json()
    client.login(username=user.username, password=PASSWORD)
    entered = enter_user_code(client, codes["user_code"])
    assert client.post(entered["Location"], {"action": "accept"}).status_code == 302
    tokens = poll_for_device_token(client, codes["device_code"], client_id=tv)
    assert tokens.status_code == 200, tokens.content
    bearer = f"Bearer {tokens.json()['access_token']}"
    claims = client.get("/o/userinfo/", HTTP_AUTHORIZATION=bearer)
    assert (claims.status_code, claims.json()["sub"]) == (200, str(user.sub))
