"""The generated project's container image and production stack, built and run for real with podman.

One run_setup=n bake per session, built into an image (from a Debian base image made here with
debootstrap, as no registry can be reached: the Dockerfile's BASE_IMAGE argument), migrated by the
Kubernetes Job's own command, then two replicas on host networking against one PostgreSQL database
and one Redis. The test talks to them as the TLS-terminating proxy in front of them would (see
`through_proxy`): plain http to the replica, the public https URL in Host and X-Forwarded-Proto.
"""

import base64
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests
import yaml
from requests.adapters import HTTPAdapter

from .live import checked, query_of, sign_in, submit
from .oauth_helpers import authorization_params
from .support import SECRET_KEYS, bake, free_port, fresh_postgres_database, manage, read_env_values, run

pytestmark = pytest.mark.slow

DOMAIN = "auth.containers.test"
ISSUER = f"https://{DOMAIN}"
# The seeded demo client's redirect URI: production settings take https ones only.
REDIRECT_URI = "https://client.containers.test/callback"
# Built by debootstrap from Debian's packages and kept between runs (about a minute to make).
BASE_IMAGE = "localbase"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# Low, so that a few failures show whether the replicas count them together.
CLIENT_FAILURES_PER_CLIENT = 4
# The image runs as this user (Dockerfile, deploy/kubernetes/).
IMAGE_UID = 10001


def skip_loudly(step, detail=""):
    pytest.skip(f"SKIPPED LOUDLY: podman cannot run here: {step} failed. {detail}".strip())


class Podman:
    def __init__(self, config):
        runtime = ["--runtime", "runc"] if shutil.which("runc") else []
        self.command = ["podman", *runtime]
        self.env = {**dict(os.environ), "CONTAINERS_CONF": str(config)}

    def __call__(self, *args, timeout=600, input=None):
        if input is None:
            return run([*self.command, *args], cwd="/", env=self.env, timeout=timeout)
        result = subprocess.run(
            [*self.command, *args], env=self.env, input=input, capture_output=True, timeout=timeout
        )
        if result.returncode != 0:
            pytest.fail(
                f"podman {' '.join(args)} exited {result.returncode}: {result.stderr.decode()[-3000:]}"
            )
        return result

    def succeeds(self, *args):
        return subprocess.run([*self.command, *args], env=self.env, capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def podman(tmp_path_factory):
    if not shutil.which("podman"):
        skip_loudly(
            "finding podman", "Install it: apt-get install -y podman runc debootstrap (.ci/run does)."
        )
    # Debian's podman asks for ulimits that a container inside a container may not raise.
    config = tmp_path_factory.mktemp("podman") / "containers.conf"
    config.write_text("[containers]\ndefault_ulimits = []\n")
    podman = Podman(config)
    if not podman.succeeds("run", "--rm", "--network", "host", *base_image_or_none(podman), "true"):
        skip_loudly("`podman run` of the base image", "See `podman info`.")
    return podman


def base_image_or_none(podman):
    """The local base image, made once per machine: no registry can be reached from here."""
    if podman.succeeds("image", "exists", BASE_IMAGE):
        return [BASE_IMAGE]
    if not shutil.which("debootstrap"):
        skip_loudly("finding debootstrap", "apt-get install -y debootstrap (.ci/run does).")
    with tempfile.TemporaryDirectory() as root:
        step = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                root,
            ],
            capture_output=True,
            text=True,
        )
        if step.returncode != 0:
            skip_loudly("debootstrap of the local base image", step.stderr[-2000:])
        archive = subprocess.run(["tar", "-C", root, "-c", "."], capture_output=True, check=True).stdout
    podman("import", "-", BASE_IMAGE, input=archive)
    return [BASE_IMAGE]


@pytest.fixture(scope="session")
def container_project(tmp_path_factory):
    """A bake with what must never reach an image lying in its folder: .env, a key, a database, a venv."""
    project = bake(tmp_path_factory.mktemp("containers"))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (project / "keys").mkdir()
    (project / "keys/oidc.key").write_bytes(pem)
    for litter in ("db.sqlite3", ".venv/pyvenv.cfg", ".git/HEAD", ".pytest_cache/README.md", ".ruff_cache/x"):
        (project / litter).parent.mkdir(parents=True, exist_ok=True)
        (project / litter).write_text("must not reach the image\n")
    return project


@pytest.fixture(scope="session")
def project_secrets(container_project):
    """The bake's .env values and its key: the ones the replicas run with, too."""
    values = read_env_values(container_project)
    values = {**values, "OAUTH_DEMO_REDIRECT_URI": REDIRECT_URI}
    values["OIDC_RSA_PRIVATE_KEY"] = (container_project / "keys/oidc.key").read_text()
    assert all(values[name] for name in SECRET_KEYS)
    return values


def secret_needles(project_secrets):
    """Strings that would betray a secret: each .env secret, and lines of the key's PEM body."""
    pem_lines = project_secrets["OIDC_RSA_PRIVATE_KEY"].splitlines()[1:-1]
    return [project_secrets[name] for name in SECRET_KEYS] + pem_lines[::6]


@pytest.fixture(scope="session")
def image(podman, container_project):
    tag = f"localhost/oauth-template-containers:{secrets.token_hex(4)}"
    started = time.monotonic()
    podman(
        "build",
        # The docker format keeps HEALTHCHECK (OCI images have no such field).
        "--format", "docker",
        "--network", "host",
        "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
        # Downloads here go through a TLS chain that only the host's CA bundle trusts.
        "--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
        "--tag", tag,
        str(container_project),
        timeout=900,
    )  # fmt: skip
    size = int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout)
    print(
        f"\nImage {tag} built in {time.monotonic() - started:.0f} s, {size / 1e6:.0f} MB (base {BASE_IMAGE})"
    )
    yield tag
    podman("rmi", "--force", tag)


@pytest.fixture(scope="session")
def redis_url():
    with socket.socket() as probe:
        probe.settimeout(2)
        try:
            probe.connect(("127.0.0.1", 6379))
        except OSError as error:
            pytest.skip(f"SKIPPED LOUDLY: no Redis server answers at 127.0.0.1:6379: {error}")
    return "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def database_url():
    with fresh_postgres_database("containers") as url:
        yield url


@pytest.fixture(scope="session")
def podman_secrets(podman, project_secrets):
    """Secrets in podman's store, given to containers as variables or files, never in `podman inspect`."""
    suffix = secrets.token_hex(4)
    names = {}
    for variable in ("DJANGO_SECRET_KEY", "DJANGO_SUPERUSER_PASSWORD", "OAUTH_DEMO_CLIENT_SECRET", "OAUTH_M2M_CLIENT_SECRET", "OIDC_RSA_PRIVATE_KEY"):  # fmt: skip
        names[variable] = f"oauth-template-{variable.lower().replace('_', '-')}-{suffix}"
        podman("secret", "create", names[variable], "-", input=project_secrets[variable].encode())
    yield names
    for name in names.values():
        podman("secret", "rm", name)


def as_env_secret(names, variable):
    return ["--secret", f"{names[variable]},type=env,target={variable}"]


@pytest.fixture(scope="session")
def configuration(podman_secrets, project_secrets, database_url, redis_url):
    """The arguments that configure a container, all from the environment, as in deploy/kubernetes/."""
    plain = {
        "DJANGO_ALLOWED_HOSTS": DOMAIN,
        "OAUTH_ISSUER": ISSUER,
        "DATABASE_URL": database_url,
        "EMAIL_URL": "smtp://127.0.0.1:1",
        "CACHE_URL": redis_url,
        "DJANGO_SECURE_PROXY_SSL_HEADER": "true",
        "THROTTLE_IP_HEADER": "HTTP_X_FORWARDED_FOR",
        "THROTTLE_CLIENT_FAILURES_PER_CLIENT": str(CLIENT_FAILURES_PER_CLIENT),
    }
    arguments = [argument for name, value in plain.items() for argument in ("--env", f"{name}={value}")]
    return [*arguments, *as_env_secret(podman_secrets, "DJANGO_SECRET_KEY")]


def one_off(podman, image, configuration, command, *extra):
    """A one-off command in a fresh container, as a Job or `docker compose run` runs it."""
    return podman("run", "--rm", "--network", "host", *configuration, *extra, image, *command, timeout=300)


def manifest(project, name):
    return yaml.safe_load((project / "deploy/kubernetes" / name).read_text())


def container_of(pod_spec):
    (container,) = pod_spec["containers"]
    return container


@pytest.fixture(scope="session")
def migrated(podman, image, configuration, podman_secrets, project_secrets, container_project):
    """Migrated by the command of the Kubernetes Job; the admin and the clients by their one-off commands."""
    key = as_env_secret(podman_secrets, "OIDC_RSA_PRIVATE_KEY")
    job = manifest(container_project, "migrate-job.yaml")
    one_off(podman, image, configuration, container_of(job["spec"]["template"]["spec"])["command"], *key)
    admin = [
        "--env", f"DJANGO_SUPERUSER_USERNAME={project_secrets['DJANGO_SUPERUSER_USERNAME']}",
        "--env", f"DJANGO_SUPERUSER_EMAIL={project_secrets['DJANGO_SUPERUSER_EMAIL']}",
        *as_env_secret(podman_secrets, "DJANGO_SUPERUSER_PASSWORD"),
    ]  # fmt: skip
    one_off(
        podman, image, configuration, ["python3", "manage.py", "createsuperuser", "--noinput"], *key, *admin
    )
    clients = [
        "--env", f"OAUTH_DEMO_CLIENT_ID={project_secrets['OAUTH_DEMO_CLIENT_ID']}",
        "--env", f"OAUTH_DEMO_REDIRECT_URI={REDIRECT_URI}",
        "--env", f"OAUTH_M2M_CLIENT_ID={project_secrets['OAUTH_M2M_CLIENT_ID']}",
        *as_env_secret(podman_secrets, "OAUTH_DEMO_CLIENT_SECRET"),
        *as_env_secret(podman_secrets, "OAUTH_M2M_CLIENT_SECRET"),
    ]  # fmt: skip
    one_off(podman, image, configuration, ["python3", "manage.py", "seed_oauth_clients"], *key, *clients)


@dataclass
class Replica:
    name: str
    port: int


class ProxyAdapter(HTTPAdapter):
    """What a TLS-terminating proxy does: the client speaks https to the public name, the replica
    gets plain http with Host, X-Forwarded-Proto and X-Forwarded-For set by the proxy."""

    def __init__(self, port, client_ip):
        super().__init__()
        self.port = port
        self.client_ip = client_ip

    def send(self, request, **kwargs):
        forwarded = request.copy()
        forwarded.url = f"http://127.0.0.1:{self.port}{request.url.removeprefix(ISSUER)}"
        forwarded.headers.update(
            {"Host": DOMAIN, "X-Forwarded-Proto": "https", "X-Forwarded-For": self.client_ip}
        )
        response = super().send(forwarded, **kwargs)
        response.request, response.url = request, request.url
        return response


def through_proxy(replica, client_ip="192.0.2.10"):
    """A browser or client session whose https requests to the issuer reach `replica`, failing on any 5xx."""
    session = requests.Session()
    session.mount(ISSUER, ProxyAdapter(replica.port, client_ip))
    return checked(session)


def wait_until_ready(podman, replica, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(requests.ConnectionError):
            if through_proxy(replica).get(f"{ISSUER}/readyz", timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline or not podman.succeeds("container", "exists", replica.name):
            logs = subprocess.run(
                [*podman.command, "logs", replica.name], env=podman.env, capture_output=True, text=True
            )
            pytest.fail(
                f"{replica.name} was not ready within {seconds} s:\n{(logs.stdout + logs.stderr)[-4000:]}"
            )
        time.sleep(0.5)


@pytest.fixture(scope="session")
def replicas(podman, image, configuration, podman_secrets, migrated):
    """Two replicas, each given the signing key its own way: a variable, and a mounted file."""
    key_as_variable = as_env_secret(podman_secrets, "OIDC_RSA_PRIVATE_KEY")
    key_as_file = [
        "--secret", f"{podman_secrets['OIDC_RSA_PRIVATE_KEY']},type=mount,target=oidc.key,uid={IMAGE_UID},mode=0400",
        "--env", "OIDC_RSA_PRIVATE_KEY_FILE=/run/secrets/oidc.key",
    ]  # fmt: skip
    started = []
    try:
        for number, key in enumerate((key_as_variable, key_as_file), start=1):
            replica = Replica(f"oauth-template-replica-{number}-{secrets.token_hex(3)}", free_port())
            podman(
                "run", "--detach", "--name", replica.name, "--network", "host",
                "--env", f"PORT={replica.port}", "--env", "WEB_CONCURRENCY=1",
                *configuration, *key, image,
            )  # fmt: skip
            started.append(replica)
        for replica in started:
            wait_until_ready(podman, replica)
        yield started
    finally:
        for replica in started:
            subprocess.run(
                [*podman.command, "rm", "--force", "--time", "5", replica.name],
                env=podman.env,
                capture_output=True,
            )


def test_the_image_runs_as_an_unprivileged_user_and_passes_its_healthcheck(podman, image, replicas):
    assert (
        podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()
        == f"{IMAGE_UID}:{IMAGE_UID}"
    )
    for replica in replicas:
        assert podman("exec", replica.name, "id", "-u").stdout.strip() == str(IMAGE_UID)
        # The HEALTHCHECK of the Dockerfile: standard library only, the Host it sends is allowed.
        podman("healthcheck", "run", replica.name)
        # The code and the virtualenv belong to root: the server cannot change them.
        probe = "import pathlib; pathlib.Path('/app/manage.py').write_text('')"
        assert not podman.succeeds("exec", replica.name, "python3", "-c", probe)


def test_the_base_image_defaults_to_the_official_slim_python(container_project):
    dockerfile = (container_project / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.\d+-slim$", dockerfile, re.M)
    assert "--require-hashes --requirement /tmp/requirements.lock" in dockerfile


# What .dockerignore keeps out of the build context (container_project puts each there).
KEPT_OUT_OF_THE_IMAGE = {".env", "keys", "db.sqlite3", ".venv", ".git", ".pytest_cache", ".ruff_cache"}


def test_no_secret_in_any_layer_the_history_or_inspect(podman, image, replicas, project_secrets, tmp_path):
    needles = [needle.encode() for needle in secret_needles(project_secrets)]
    archive = tmp_path / "image.tar"
    podman("save", "--format", "docker-archive", "--output", str(archive), image)
    layers = 0
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            content = outer.extractfile(member).read()
            assert not [needle for needle in needles if needle in content], f"a secret in {member.name}"
            if not member.name.endswith(".tar"):
                continue
            layers += 1
            with tarfile.open(fileobj=io.BytesIO(content)) as layer:
                for entry in layer.getmembers():
                    path = entry.name.removeprefix("./")
                    if path.startswith("app/"):
                        assert path.split("/")[1] not in KEPT_OUT_OF_THE_IMAGE, f"{path} is in a layer"
                    if entry.isfile():
                        data = layer.extractfile(entry).read()
                        assert not [needle for needle in needles if needle in data], f"a secret in {path}"
    assert layers >= 2
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    inspected = podman("image", "inspect", image).stdout
    for text in (history, inspected):
        assert not [needle for needle in needles if needle.decode() in text]
    # A variable shows in `podman inspect` of its container, as in `kubectl describe`: a key given as
    # a mounted file does not.
    mounted = podman("container", "inspect", replicas[1].name).stdout
    pem_lines = project_secrets["OIDC_RSA_PRIVATE_KEY"].splitlines()[1:-1]
    assert not [line for line in pem_lines if line in mounted]


def test_both_replicas_are_healthy_ready_and_publish_one_issuer_and_one_key(replicas):
    documents = []
    for replica in replicas:
        session = through_proxy(replica)
        assert session.get(f"{ISSUER}/healthz").json() == {"status": "ok", "database": "ok"}
        assert session.get(f"{ISSUER}/readyz").json()["status"] == "ok"
        metadata = session.get(f"{ISSUER}/.well-known/openid-configuration").json()
        assert metadata["issuer"] == ISSUER
        documents.append(session.get(metadata["jwks_uri"]).json())
        # Plain http without the proxy's header is sent to https; the probes are not (orchestrators).
        direct = f"http://127.0.0.1:{replica.port}"
        answer = requests.get(
            f"{direct}/o/userinfo/", headers={"Host": DOMAIN}, allow_redirects=False, timeout=10
        )
        assert answer.status_code == 301 and answer.headers["Location"] == f"{ISSUER}/o/userinfo/"
        assert requests.get(f"{direct}/healthz", headers={"Host": DOMAIN}, timeout=10).status_code == 200
        # A Host that is not DJANGO_ALLOWED_HOSTS is refused.
        assert requests.get(f"{direct}/healthz", headers={"Host": "evil.test"}, timeout=10).status_code == 400
    assert documents[0] == documents[1] and len(documents[0]["keys"]) == 1


def test_a_token_from_one_replica_is_accepted_by_the_other(replicas, project_secrets):
    first, second = (through_proxy(replica) for replica in replicas)
    credentials = (project_secrets["OAUTH_M2M_CLIENT_ID"], project_secrets["OAUTH_M2M_CLIENT_SECRET"])
    token = first.post(f"{ISSUER}/o/token/", data={"grant_type": "client_credentials"}, auth=credentials)
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert second.get(f"{ISSUER}/api/me/", headers=bearer).status_code == 200
    assert second.get(f"{ISSUER}/api/me/", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_an_id_token_from_one_replica_verifies_against_the_other_jwks(replicas, project_secrets):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    first, second = (through_proxy(replica) for replica in replicas)
    params, verifier = authorization_params(project_secrets)
    # Signed in at the first replica (its session is in the database, its cookie Secure: https only).
    login_page = first.get(f"{ISSUER}/o/authorize/?{urlencode(params)}")
    consent_page = sign_in(first, login_page, project_secrets)
    answer = submit(first, consent_page, button=("allow", "Authorize"), allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(REDIRECT_URI), answer.text[
        :2000
    ]
    code = query_of(answer.headers["Location"])["code"]
    # The code is redeemed at the second replica, whose key signs the ID token.
    demo = (project_secrets["OAUTH_DEMO_CLIENT_ID"], project_secrets["OAUTH_DEMO_CLIENT_SECRET"])
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    tokens = second.post(f"{ISSUER}/o/token/", data=form, auth=demo)
    assert tokens.status_code == 200, tokens.text
    key_set = KeySet.import_key_set(first.get(f"{ISSUER}/o/.well-known/jwks.json").json())
    claims = jwt.decode(tokens.json()["id_token"], key_set, algorithms=["RS256"]).claims
    assert (claims["iss"], claims["aud"], claims["nonce"]) == (ISSUER, demo[0], params["nonce"])
    userinfo = first.get(
        f"{ISSUER}/o/userinfo/", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert userinfo.json()["sub"] == claims["sub"]


def test_failed_client_authentications_are_counted_across_replicas(replicas):
    """Through Redis: half the failures at each replica reach the limit, which both then enforce."""
    client_id = f"guessed-{secrets.token_hex(4)}"
    first, second = (through_proxy(replica, client_ip="192.0.2.77") for replica in replicas)

    def guess(session):
        return session.post(
            f"{ISSUER}/o/token/", data={"grant_type": "client_credentials"}, auth=(client_id, "wrong")
        )

    for attempt in range(CLIENT_FAILURES_PER_CLIENT):
        assert guess((first, second)[attempt % 2]).status_code == 401
    for session in (first, second):
        refused = guess(session)
        assert refused.status_code == 429 and refused.json()["error"] == "invalid_client"


def test_cleartokens_runs_as_the_cronjob_says(
    podman, image, configuration, podman_secrets, migrated, container_project
):
    cronjob = manifest(container_project, "cleartokens-cronjob.yaml")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    command = container_of(pod)["command"]
    assert command == ["python3", "manage.py", "cleartokens"]
    one_off(podman, image, configuration, command, *as_env_secret(podman_secrets, "OIDC_RSA_PRIVATE_KEY"))


# Kubernetes and compose: their files checked field by field, the Deployment started by `podman kube play`.


def kubernetes_resources(project):
    kustomization = manifest(project, "kustomization.yaml")
    return kustomization, {name: manifest(project, name) for name in kustomization["resources"]}


def test_the_kubernetes_manifests_hold_what_a_cluster_needs(container_project):
    kustomization, resources = kubernetes_resources(container_project)
    kinds = {resource["kind"]: resource for resource in resources.values()}
    assert set(kinds) == {"Deployment", "Service", "Job", "CronJob"}
    for resource in resources.values():
        assert resource["apiVersion"] and resource["metadata"]["name"]
    deployment = kinds["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert (
        kinds["Service"]["spec"]["selector"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    server = container_of(pod)
    assert kinds["Service"]["spec"]["ports"][0]["targetPort"] in {port["name"] for port in server["ports"]}
    generated = {
        item["name"]: item for item in kustomization["secretGenerator"] + kustomization["configMapGenerator"]
    }
    config = dict(literal.split("=", 1) for literal in generated["authorization-server-config"]["literals"])
    assert (
        config["OAUTH_ISSUER"].startswith("https://") and config["DJANGO_SECURE_PROXY_SSL_HEADER"] == "true"
    )
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        check = server[probe]["httpGet"]
        assert check["path"] == path and check["port"] == "http"
        assert {"name": "Host", "value": config["DJANGO_ALLOWED_HOSTS"].split(",")[0]} in check["httpHeaders"]
    assert server["resources"]["requests"]["cpu"] and server["resources"]["requests"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == IMAGE_UID
    assert server["securityContext"]["readOnlyRootFilesystem"]
    # Every secret reference names a generated Secret and one of its keys; the key file is where the mount puts it.
    job_pods = [
        kinds["Job"]["spec"]["template"]["spec"],
        kinds["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"],
    ]
    assert container_of(job_pods[0])["command"][-2:] == ["migrate", "--noinput"]
    assert kinds["CronJob"]["spec"]["concurrencyPolicy"] == "Forbid"
    for spec in (pod, *job_pods):
        container = container_of(spec)
        variables = {variable["name"]: variable for variable in container["env"]}
        assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "EMAIL_URL", "OIDC_RSA_PRIVATE_KEY_FILE"} <= set(
            variables
        )
        for variable in variables.values():
            if "valueFrom" in variable:
                reference = variable["valueFrom"]["secretKeyRef"]
                keys = [item.split("=", 1)[0] for item in generated[reference["name"]]["files"]]
                assert reference["key"] in keys
        assert container["envFrom"] == [{"configMapRef": {"name": "authorization-server-config"}}]
        key_file = Path(variables["OIDC_RSA_PRIVATE_KEY_FILE"]["value"])
        (mount,) = [
            mount for mount in container["volumeMounts"] if mount["mountPath"] == str(key_file.parent)
        ]
        (volume,) = [volume for volume in spec["volumes"] if volume["name"] == mount["name"]]
        keys = [item.split("=", 1)[0] for item in generated[volume["secret"]["secretName"]]["files"]]
        assert key_file.name in keys
    # The probes' paths are the project's own health views.
    resolved = manage(container_project, "shell", "-c", "from django.urls import resolve; print(resolve('/readyz').url_name, resolve('/healthz').url_name)", DJANGO_SETTINGS_MODULE="config.settings.test")  # fmt: skip
    assert resolved.stdout.splitlines()[-1].split() == ["readyz", "healthz"]
    # The secret files that kustomize reads are never committed nor sent to a build.
    ignored = (container_project / ".gitignore").read_text().splitlines()
    assert (
        "secrets/" in ignored and "deploy/" in (container_project / ".dockerignore").read_text().splitlines()
    )


def test_podman_kube_play_runs_the_deployment(podman, image, migrated, container_project, project_secrets, database_url, redis_url, tmp_path):  # fmt: skip
    """The Deployment as written, except what a single machine without a cluster needs: one replica on
    the host's network (on a free port) and the test's image; the key from a host folder (podman 4.3's kube play cannot
    mount a Secret); the configuration and the Secrets from podman, under the manifests' own names."""
    kustomization, resources = kubernetes_resources(container_project)
    deployment = resources["deployment.yaml"]
    deployment["spec"]["replicas"] = 1
    pod = deployment["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    server = container_of(pod)
    port = free_port()
    server["image"] = image
    # On the host's network there is nothing to map: the server listens on $PORT, the probes ask there.
    del server["ports"]
    for probe in ("readinessProbe", "livenessProbe"):
        server[probe]["httpGet"]["port"] = port
    for variable in server["env"]:
        if variable["name"] == "PORT":
            variable["value"] = str(port)
    key_dir = tmp_path / "oidc"
    key_dir.mkdir()
    generated = {
        item["name"]: item for item in kustomization["secretGenerator"] + kustomization["configMapGenerator"]
    }
    contents = {"oidc.key": project_secrets["OIDC_RSA_PRIVATE_KEY"], "inactive.pem": "", "DJANGO_SECRET_KEY": project_secrets["DJANGO_SECRET_KEY"], "DATABASE_URL": database_url, "EMAIL_URL": "smtp://127.0.0.1:1"}  # fmt: skip
    for volume in pod["volumes"]:
        if "secret" in volume:
            for item in generated[volume.pop("secret")["secretName"]]["files"]:
                name = item.split("=", 1)[0]
                (key_dir / name).write_text(contents[name])
            volume["hostPath"] = {"path": str(key_dir), "type": "Directory"}
    for path in key_dir.iterdir():
        shutil.chown(path, IMAGE_UID, IMAGE_UID)
        path.chmod(0o400)
    config = dict(literal.split("=", 1) for literal in generated["authorization-server-config"]["literals"])
    config["CACHE_URL"] = redis_url
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "authorization-server-config"}, "data": config}  # fmt: skip
    play = tmp_path / "play.yaml"
    play.write_text(yaml.safe_dump_all([config_map, deployment]))
    created = []
    try:
        for secret in kustomization["secretGenerator"]:
            # podman's form of a Kubernetes Secret: a JSON object of base64 values.
            data = {item.split("=", 1)[0]: base64.b64encode(contents[item.split("=", 1)[0]].encode()).decode() for item in secret["files"]}  # fmt: skip
            podman("secret", "create", secret["name"], "-", input=json.dumps(data).encode())
            created.append(secret["name"])
        podman("kube", "play", str(play))
        host = {"Host": config["DJANGO_ALLOWED_HOSTS"]}
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.ConnectionError):
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", headers=host, timeout=5)
                if answer.status_code == 200:
                    break
            assert time.monotonic() < deadline, podman(
                "pod", "logs", f"{deployment['metadata']['name']}-pod-0"
            ).stdout[-3000:]
            time.sleep(0.5)
        assert answer.json()["status"] == "ok"
        assert (
            requests.get(f"http://127.0.0.1:{port}/readyz", headers=host, timeout=5).json()["status"] == "ok"
        )
    finally:
        subprocess.run([*podman.command, "kube", "down", str(play)], env=podman.env, capture_output=True)
        for name in created:
            subprocess.run([*podman.command, "secret", "rm", name], env=podman.env, capture_output=True)


COMPOSE_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolated(text, values):
    """compose.yaml as `docker compose` reads it: ${NAME}, ${NAME:-default}, ${NAME:?error}."""

    def value(match):
        name, operator, argument = match.groups()
        if values.get(name):
            return values[name]
        if operator == "?":
            raise LookupError(argument)
        return argument or ""

    return COMPOSE_VARIABLE.sub(value, text)


def test_the_compose_stack_puts_a_tls_proxy_before_two_replicas(container_project):
    text = (container_project / "compose.yaml").read_text()
    # Without its secrets the stack does not start at all.
    with pytest.raises(LookupError, match="DJANGO_SECRET_KEY"):
        interpolated(text, {"POSTGRES_PASSWORD": "x"})
    with pytest.raises(LookupError, match="EMAIL_URL"):
        interpolated(text, {"DJANGO_SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "p"})
    compose = yaml.safe_load(
        interpolated(
            text, {"DJANGO_SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "p", "EMAIL_URL": "smtp://mail:25"}
        )
    )
    services = compose["services"]
    assert {"app-1", "app-2", "manage", "proxy", "postgres", "redis"} <= set(services)
    for name in ("app-1", "app-2"):
        app = services[name]
        assert "ports" not in app, "only the proxy is reachable from outside"
        environment = app["environment"]
        for variable in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "EMAIL_URL", "CACHE_URL", "OIDC_RSA_PRIVATE_KEY_FILE"):  # fmt: skip
            assert environment[variable]
        assert environment["OAUTH_ISSUER"].startswith("https://")
        assert environment["DJANGO_SECURE_PROXY_SSL_HEADER"] == "true"
        assert urlsplit(environment["DATABASE_URL"]).hostname == "postgres"
        assert urlsplit(environment["CACHE_URL"]).hostname == "redis"
        assert environment["OIDC_RSA_PRIVATE_KEY_FILE"] == f"/run/secrets/{app['secrets'][0]['source']}"
    proxy = services["proxy"]
    assert "443:443" in proxy["ports"] and "--to app-1:8000 --to app-2:8000" in proxy["command"]
    assert services["manage"]["profiles"] and services["manage"]["entrypoint"] == ["python3", "manage.py"]
    assert (compose["secrets"]["oidc_key"]["file"]).startswith("./secrets/")


@pytest.mark.parametrize("api_framework", ["none", "drf"])
def test_the_dependency_lock_matches_the_project_dependencies(api_framework, tmp_path):
    """requirements.lock is what `uv pip compile` makes of pyproject.toml, keeping the pins it has:
    the drf bake's lock adds Django REST framework."""
    if not shutil.which("uv"):
        pytest.skip("SKIPPED LOUDLY: uv is not on PATH, so requirements.lock cannot be re-compiled")
    project = bake(tmp_path / "bake", api_framework=api_framework)
    shipped = (project / "requirements.lock").read_text()
    assert ("\ndjangorestframework==" in shipped) == (api_framework == "drf")
    command = re.search(r"^#    (uv pip compile .*)$", shipped, re.M).group(1).split()
    work = tmp_path / "lock"
    work.mkdir()
    shutil.copy(project / "pyproject.toml", work)
    shutil.copy(project / "requirements.lock", work)
    run(command, cwd=work)
    assert (work / "requirements.lock").read_text() == shipped
