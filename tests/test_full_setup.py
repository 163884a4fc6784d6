"""One full bake with run_setup=y: the hook's setup, the project's own tests, and a live server."""

import json
import re
import stat
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from .oauth_helpers import authorization_params, sign_in_and_consent, token_request
from .support import SECRET_KEYS, project_env, run, venv_manage

pytestmark = pytest.mark.slow


def test_hook_reports_each_step_and_a_summary_without_secrets(full_bake, env_values):
    _, stdout = full_bake
    for number in range(1, 8):
        assert f"[{number}/7]" in stdout
    assert "is ready" in stdout
    assert "http://localhost:8000/" in stdout
    summary = stdout[stdout.index("is ready") :].splitlines()
    assert all(len(line) < 100 for line in summary), max(summary, key=len)
    assert env_values["OAUTH_DEMO_CLIENT_ID"] in stdout
    assert env_values["OAUTH_M2M_CLIENT_ID"] in stdout
    for key in (
        "DJANGO_SECRET_KEY",
        "DJANGO_SUPERUSER_PASSWORD",
        "OAUTH_DEMO_CLIENT_SECRET",
        "OAUTH_M2M_CLIENT_SECRET",
    ):
        assert env_values[key] not in stdout, key


def test_secrets_and_signing_key_are_private(project):
    assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600
    key_file = project / "keys" / "oidc.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_pem_private_key(key_file.read_bytes(), password=None).key_size == 2048


def test_admin_and_clients_exist(project, env_values):
    probe = (
        "import json\n"
        "from django.contrib.auth import authenticate\n"
        "from oauth2_provider.models import get_application_model\n"
        "import os\n"
        "admin = authenticate(username=os.environ['DJANGO_SUPERUSER_USERNAME'],"
        " password=os.environ['DJANGO_SUPERUSER_PASSWORD'])\n"
        "apps = {a.client_id: [a.authorization_grant_type, a.algorithm] for a in get_application_model().objects.all()}\n"
        "print(json.dumps({'admin': bool(admin and admin.is_superuser), 'apps': apps}))\n"
    )
    state = json.loads(venv_manage(project, "shell", "-c", probe).stdout.splitlines()[-1])
    assert state["admin"] is True
    seeded = (env_values["OAUTH_DEMO_CLIENT_ID"], env_values["OAUTH_M2M_CLIENT_ID"])
    # The live-client tests may have registered clients of their own by now.
    assert {client_id: state["apps"].get(client_id) for client_id in seeded} == {
        env_values["OAUTH_DEMO_CLIENT_ID"]: ["authorization-code", "RS256"],
        env_values["OAUTH_M2M_CLIENT_ID"]: ["client-credentials", ""],
    }


def test_seeding_again_changes_nothing(project):
    assert venv_manage(project, "seed_oauth_clients").stdout.count("unchanged:") == 2


def test_generated_test_suite_passes_in_its_own_virtualenv(project):
    result = run([str(project / ".venv/bin/python"), "-m", "pytest", "-q"], cwd=project, env=project_env())
    assert re.search(r"\d+ passed", result.stdout)
    assert not re.search(r"\d+ failed", result.stdout)


def test_git_repository_tracks_no_secret(project, env_values):
    assert (project / ".git" / "hooks" / "pre-commit").is_file(), "pre-commit install did not run"
    # The setup committed what the bake made, and left nothing else for cruft to call unclean.
    assert len(run(["git", "log", "--oneline"], cwd=project).stdout.splitlines()) == 1
    assert run(["git", "status", "--porcelain"], cwd=project).stdout == ""
    tracked = run(["git", "ls-files"], cwd=project).stdout.split()
    assert ".cruft.json" in tracked
    assert ".env.example" in tracked
    for private in (".env", "keys/oidc.key", "db.sqlite3"):
        assert private not in tracked
    assert not any(name.startswith((".venv/", "keys/")) for name in tracked)
    secrets = [env_values[key] for key in SECRET_KEYS]
    for name in tracked:
        content = (project / name).read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a secret from .env is in the tracked file {name}"
    bin_dir = Path(sys.prefix) / "bin"
    for tool in ("check-added-large-files", "check-merge-conflict", "detect-private-key"):
        run([str(bin_dir / tool), *tracked], cwd=project)


def test_live_discovery_names_the_pinned_issuer(any_live_server):
    with urllib.request.urlopen(f"{any_live_server}/.well-known/openid-configuration") as response:
        document = json.load(response)
    assert document["issuer"] == any_live_server
    assert document["token_endpoint"] == f"{any_live_server}/o/token/"


def test_readme_client_credentials_curl_works(project, live_server, env_values):
    readme = (project / "README.md").read_text()
    block = re.search(r"\*\*Client credentials\*\*.*?```bash\n(.*?)```", readme, re.S).group(1)
    script = readme_exports(readme) + block.replace("http://localhost:8000", live_server)
    result = run(["bash", "-euo", "pipefail", "-c", script], cwd=project, env=project_env())
    answer = json.loads(result.stdout)
    assert answer == {"client_id": env_values["OAUTH_M2M_CLIENT_ID"], "scope": ["read"]}


def readme_exports(readme):
    return re.search(r"```bash\n(export \$\(grep .*?\n)```", readme).group(1)


def test_live_login_consent_and_token(any_live_server, env_values):
    live_server = any_live_server
    params, verifier = authorization_params(env_values)
    answer, consent_page = sign_in_and_consent(live_server, env_values, params)
    assert "Read your data" in consent_page.text and "demo web app" in consent_page.text
    assert answer["state"] == "live-state" and answer["iss"] == live_server

    response = token_request(
        live_server,
        env_values,
        grant_type="authorization_code",
        code=answer["code"],
        redirect_uri=params["redirect_uri"],
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert {"access_token", "refresh_token", "id_token"} <= set(tokens)
    me = urllib.request.Request(
        f"{live_server}/api/me/", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    with urllib.request.urlopen(me) as response:
        assert json.load(response)["user"]["username"] == env_values["DJANGO_SUPERUSER_USERNAME"]
