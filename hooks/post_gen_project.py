"""
On a bake: record the template and answers for cruft, write .env with fresh secrets, then set the
project up (run_setup=y) or say how to (run_setup=n). On cruft's re-renders: shape the files only.
"""

import contextlib
import json
import os
import secrets
import shlex
import shutil
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

COOKIECUTTER_CONTEXT = r"""{{ cookiecutter | jsonify }}"""

ALPHANUMERIC = string.ascii_letters + string.digits
VENV_PYTHON = ".venv/bin/python"
MANAGE = f"{VENV_PYTHON} manage.py"
# localhost, not 127.0.0.1: browsers refuse passkeys (WebAuthn) on an IP address.
SERVER_URL = "http://localhost:8000/"
DEMO_URL = f"{SERVER_URL}demo/"
OUTPUT_TAIL_LINES = 20
# cookiecutter's abbreviations for template URLs (cookiecutter.config.BUILTIN_ABBREVIATIONS), which
# cruft, cloning with git, does not expand.
TEMPLATE_ABBREVIATIONS = {
    "gh": "https://github.com/{}.git",
    "gl": "https://gitlab.com/{}.git",
    "bb": "https://bitbucket.org/{}",
}
# Keys cookiecutter adds for one bake: where it ran, not what the project is.
BAKE_ONLY_KEYS = ("_output_dir", "_repo_dir", "_checkout")
FIRST_COMMIT_MESSAGE = "Baked from the template (its commit and the answers: .cruft.json)"
# A long step (the dependency install) prints a line this often, to show it is alive.
HEARTBEAT_SECONDS = 5
# Run by the venv's own Python, so the manual pip install works whatever Python ran cookiecutter.
PRINT_REQUIREMENTS = (
    'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; '
    'print(*p["dependencies"], *p["optional-dependencies"]["dev"], sep=chr(10))'
)


class CommandFailed(Exception):
    def __init__(self, args: list[str], returncode: int, output: str) -> None:
        super().__init__(f"{shlex.join(args)} exited with code {returncode}")
        self.command = shlex.join(args)
        self.returncode = returncode
        self.output = output


def select_api_framework(project_dir: Path, package: str, framework: str) -> None:
    """Put the sample API written with `framework` in api/views.py; drop the other one, and the
    tests of REST framework's defaults unless they apply."""
    api = project_dir / package / "api"
    drf_tests = project_dir / "tests" / "test_api_drf.py"
    if framework == "drf":
        os.replace(api / "drf_views.py", api / "views.py")
    else:
        (api / "drf_views.py").unlink()
        drf_tests.unlink()


def is_rerender(context: dict) -> bool:
    """True when cruft renders the template again with the recorded answers (`cruft update`,
    `cruft diff`): only cookiecutter's own bake tells the hooks where it writes (_output_dir)."""
    return "_output_dir" not in context


def template_source(context: dict) -> str | None:
    """What cruft clones to update the project: cookiecutter's gh:/gl:/bb: abbreviations
    expanded, a local template as an absolute path; None when that path cannot be found."""
    template = context["_template"]
    prefix, _, rest = template.partition(":")
    if prefix in TEMPLATE_ABBREVIATIONS and rest:
        return TEMPLATE_ABBREVIATIONS[prefix].format(rest)
    if "://" in template or template.startswith("git@"):
        return template
    # A local template: cookiecutter's own absolute path to it (_repo_dir), else the name given,
    # relative to where cookiecutter ran, which is the output folder's parent unless --output-dir
    # was given (the hook runs in the project folder and cannot see where that was).
    candidates = [Path(template), Path(context["_output_dir"]) / template]
    if context.get("_repo_dir"):
        candidates.insert(0, Path(context["_repo_dir"]))
    for candidate in candidates:
        if (candidate / "cookiecutter.json").is_file():
            return str(candidate.resolve())
    return None


def template_commit(context: dict) -> str | None:
    """The commit cookiecutter baked from: HEAD of its checkout of the template."""
    result = subprocess.run(
        ["git", "-C", context["_repo_dir"], "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() if result.returncode == 0 else None


def write_cruft_file(project_dir: Path, context: dict) -> str:
    """Write .cruft.json as `cruft create` would, so that `cruft check` and `cruft update` work
    from the first day. Returns what to tell the user."""
    source, commit = template_source(context), template_commit(context)
    if source is None or commit is None:
        return (
            "NOTE: the template is not a git checkout this hook can name, so .cruft.json was not "
            "written; link the project with `cruft link <template URL>` (docs/upgrading.md)."
        )
    # In the order of cookiecutter.json, as cruft writes them after an update.
    questions = json.loads((Path(context["_repo_dir"]) / "cookiecutter.json").read_text(encoding="utf-8"))
    answers = {key: context[key] for key in questions if key in context and key not in BAKE_ONLY_KEYS}
    answers |= {"_template": context["_template"], "_commit": commit}
    # The setup is something the bake did, not a property of the project: a re-render never runs it.
    answers["run_setup"] = "n"
    state = {
        "template": source,
        "commit": commit,
        "checkout": context.get("_checkout"),
        "context": {"cookiecutter": answers},
        "directory": None,
    }
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
    (project_dir / ".cruft.json").write_text(text, encoding="utf-8")
    return f"Template {source} at {commit[:12]}: follow its changes with `cruft update` (docs/upgrading.md)."


def random_alphanumeric(length: int) -> str:
    return "".join(secrets.choice(ALPHANUMERIC) for _ in range(length))


def generate_secrets() -> dict[str, str]:
    # Letters, digits, "-" and "_" only: none of them needs quoting in a .env file.
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(18),
        "OAUTH_DEMO_CLIENT_ID": random_alphanumeric(40),
        "OAUTH_DEMO_CLIENT_SECRET": random_alphanumeric(64),
        "OAUTH_M2M_CLIENT_ID": random_alphanumeric(40),
        "OAUTH_M2M_CLIENT_SECRET": random_alphanumeric(64),
    }


def fill_env_template(template: str, values: dict[str, str]) -> str:
    lines = template.splitlines()
    missing = set(values)
    for index, line in enumerate(lines):
        key = line.partition("=")[0].strip()
        if "=" in line and key in values:
            lines[index] = f"{key}={values[key]}"
            missing.discard(key)
    if missing:
        raise ValueError(f".env.example has no line for {', '.join(sorted(missing))}")
    return "\n".join(lines) + "\n"


def write_env_file(project_dir: Path) -> dict[str, str]:
    env_path = project_dir / ".env"
    if env_path.exists():
        raise FileExistsError(f"{env_path} already exists; delete it to generate fresh secrets")
    values = generate_secrets()
    content = fill_env_template((project_dir / ".env.example").read_text(encoding="utf-8"), values)
    # mkstemp creates the file with mode 0600, so the secrets are never readable by others, and the
    # rename means .env is either complete or absent.
    descriptor, temporary = tempfile.mkstemp(prefix=".env.", dir=project_dir)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, env_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return values


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for raw_line in path.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def run_command(args: list[str], project_dir: Path, env: dict[str, str] | None = None) -> str:
    # No stdin: a command that unexpectedly prompts fails instead of hanging the hook.
    result = subprocess.run(
        args,
        cwd=project_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    if result.returncode != 0:
        raise CommandFailed(args, result.returncode, result.stdout)
    return result.stdout


def run_manage(project_dir: Path, *args: str) -> str:
    # A DJANGO_SETTINGS_MODULE exported for another project would make manage.py load the wrong
    # settings; the .env values win over the caller's environment.
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    environment |= read_env_file(project_dir / ".env")
    return run_command([VENV_PYTHON, "manage.py", *args], project_dir, env=environment)


def create_virtualenv(project_dir: Path, python: str = sys.executable) -> None:
    # Re-running the setup by hand keeps the existing virtualenv (uv refuses to overwrite it).
    if (project_dir / VENV_PYTHON).exists():
        return
    if shutil.which("uv"):
        run_command(["uv", "venv", "--python", python, ".venv"], project_dir)
    else:
        run_command([python, "-m", "venv", ".venv"], project_dir)


def read_requirements(project_dir: Path) -> list[str]:
    # Imported here: tomllib exists from Python 3.11, which only the setup requires.
    import tomllib

    project = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [*project.get("dependencies", []), *project.get("optional-dependencies", {}).get("dev", [])]


@contextlib.contextmanager
def heartbeat(label: str, seconds: float = HEARTBEAT_SECONDS):
    """Print `label` and the time elapsed every `seconds` until the block ends."""
    done = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not done.wait(seconds):
            print(f"      {label}, {time.monotonic() - started:.0f} s ...", flush=True)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def install_dependencies(project_dir: Path) -> None:
    requirements = read_requirements(project_dir)
    with heartbeat(f"still installing {len(requirements)} packages and their dependencies"):
        if shutil.which("uv"):
            run_command(["uv", "pip", "install", "--python", VENV_PYTHON, *requirements], project_dir)
        else:
            run_command([VENV_PYTHON, "-m", "pip", "install", "--upgrade", "pip"], project_dir)
            run_command([VENV_PYTHON, "-m", "pip", "install", *requirements], project_dir)


def create_signing_key(project_dir: Path) -> None:
    # create_oidc_key refuses to replace a key, and replacing it would invalidate issued tokens.
    if not (project_dir / "keys" / "oidc.key").exists():
        run_manage(project_dir, "create_oidc_key")


def migrate_database(project_dir: Path) -> None:
    run_manage(project_dir, "migrate", "--noinput")


def create_superuser(project_dir: Path) -> None:
    try:
        run_manage(project_dir, "createsuperuser", "--noinput")
    except CommandFailed as error:
        # The admin from an earlier run is what we want, so re-running the setup must not stop here.
        if "is already taken" not in error.output:
            raise
    # Its e-mail address, verified, so that a password reset reaches it (allauth sends only there).
    run_manage(project_dir, "verify_email")


def seed_clients(project_dir: Path) -> None:
    run_manage(project_dir, "seed_oauth_clients")


def git_identity(project_dir: Path, context: dict) -> list[str]:
    """The user's own git identity where they have one, else the author's from the answers."""
    configured = subprocess.run(
        ["git", "config", "user.email"], cwd=project_dir, capture_output=True, text=True
    ).stdout.strip()
    if configured:
        return []
    return ["-c", f"user.name={context['author_name']}", "-c", f"user.email={context['author_email']}"]


def init_git_repository(project_dir: Path) -> None:
    """A repository with the baked files as its first commit: `cruft update` needs a clean tree,
    and merges the template's changes three-way against those files."""
    if not shutil.which("git"):
        raise OSError("git is not on PATH")
    if (project_dir / ".git").exists():
        return
    context = json.loads(COOKIECUTTER_CONTEXT)
    run_command(["git", "init", "-q"], project_dir)
    run_command(["git", "add", "-A"], project_dir)
    # --no-verify: the pre-commit hooks fetch their tools over the network on first use; this one
    # commit holds only what the template made. Later commits run them.
    run_command(
        [
            "git",
            *git_identity(project_dir, context),
            "commit",
            "-q",
            "--no-verify",
            "-m",
            FIRST_COMMIT_MESSAGE,
        ],
        project_dir,
    )
    if (project_dir / ".venv" / "bin" / "pre-commit").exists():
        run_command([".venv/bin/pre-commit", "install"], project_dir)


@dataclass(frozen=True)
class Step:
    name: str
    action: Callable[[Path], None]
    command: str
    command_without_uv: str = ""
    leaves: str = ""
    required: bool = True


STEPS = (
    Step(
        "Creating the virtualenv",
        create_virtualenv,
        "uv venv .venv",
        "python3 -m venv .venv",
        leaves="the virtualenv in .venv",
    ),
    Step(
        "Installing dependencies",
        install_dependencies,
        f"uv pip install --python {VENV_PYTHON} -r pyproject.toml --extra dev",
        f"{VENV_PYTHON} -m pip install --upgrade pip && "
        f"{VENV_PYTHON} -c {shlex.quote(PRINT_REQUIREMENTS)} | {VENV_PYTHON} -m pip install -r /dev/stdin",
    ),
    Step("Creating the OIDC signing key", create_signing_key, f"{MANAGE} create_oidc_key"),
    Step(
        "Migrating the database",
        migrate_database,
        f"{MANAGE} migrate --noinput",
        leaves="the database (possibly partly migrated)",
    ),
    Step(
        "Creating the admin user",
        create_superuser,
        f"{MANAGE} createsuperuser --noinput && {MANAGE} verify_email",
    ),
    Step("Creating the OAuth clients", seed_clients, f"{MANAGE} seed_oauth_clients"),
    Step(
        "Initialising git, first commit (without the pre-commit hooks; later commits run them)",
        init_git_repository,
        f"git init -q && git add -A && git commit -q --no-verify -m {shlex.quote(FIRST_COMMIT_MESSAGE)} && "
        ".venv/bin/pre-commit install",
        required=False,
    ),
)


def format_commands(steps: tuple[Step, ...], directory: str) -> str:
    lines = [f"  cd {shlex.quote(directory)}"]
    for step in steps:
        lines.append(f"  {step.command}")
        if step.command_without_uv:
            lines.append(f"    # without uv: {step.command_without_uv}")
    return "\n".join(lines)


def describe_error(error: Exception) -> str:
    if not isinstance(error, CommandFailed):
        return str(error)
    tail = error.output.rstrip().splitlines()[-OUTPUT_TAIL_LINES:]
    output = "\n".join(f"  | {line}" for line in tail) or "  | (no output)"
    return f"Command: {error.command} (exit code {error.returncode})\nLast lines of its output:\n{output}"


def report_failure(steps: tuple[Step, ...], failed: int, project_dir: Path, error: Exception) -> None:
    left_behind = [".env with fresh secrets (the commands below use it)"]
    left_behind += [step.leaves for step in steps[: failed + 1] if step.leaves]
    print(
        f"\nERROR: step {failed + 1}/{len(steps)} ({steps[failed].name}) failed.\n"
        f"{describe_error(error)}\n"
        f"Left behind: {', '.join(left_behind)}.\n"
        "cookiecutter removes the new folder when this hook fails. To finish by hand, fix the problem\n"
        "above, bake again with --keep-project-on-failure (or with run_setup=n), then run:\n"
        f"{format_commands(steps[failed:], str(project_dir))}",
        file=sys.stderr,
    )


def run_steps(steps: tuple[Step, ...], project_dir: Path) -> int:
    for index, step in enumerate(steps):
        print(f"[{index + 1}/{len(steps)}] {step.name} ...", flush=True)
        try:
            step.action(project_dir)
        except (CommandFailed, OSError, ValueError) as error:
            if step.required:
                report_failure(steps, index, project_dir, error)
                return 1
            print(f"WARNING: {step.name} failed ({error}); run it by hand: {step.command}", file=sys.stderr)
    return 0


def summary_lines(context: dict, env_values: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("Site:", SERVER_URL),
        ("Sign in:", f"{SERVER_URL}accounts/login/"),
        ("Admin:", f"{SERVER_URL}admin/ (user {context['superuser_username']})"),
        ("Password:", "DJANGO_SUPERUSER_PASSWORD in .env"),
        ("Second factor:", f"{SERVER_URL}accounts/2fa/ (an app, a passkey, recovery codes)"),
        ("Discovery:", f"{SERVER_URL}.well-known/openid-configuration"),
        ("Demo client:", f"{env_values['OAUTH_DEMO_CLIENT_ID']} (its secret is in .env)"),
        ("M2M client:", f"{env_values['OAUTH_M2M_CLIENT_ID']} (its secret is in .env)"),
        ("Tests:", f"{VENV_PYTHON} -m pytest"),
        ("Open first:", f"{DEMO_URL} (the demo client signs you in, shows its tokens)"),
    ]


def print_summary(context: dict, env_values: dict[str, str]) -> None:
    # One short line each, the values in one column: readable in an 80-column terminal.
    lines = summary_lines(context, env_values)
    width = max(len(label) for label, _ in lines) + 1
    print(
        f"\n{context['project_name']} is ready. Start it with:\n"
        f"  cd {context['project_slug']}\n"
        f"  {MANAGE} runserver\n" + "\n".join(f"{label:<{width}}{value}" for label, value in lines)
    )


def print_manual_steps(context: dict) -> None:
    print(
        f"\n{context['project_name']} was created, with fresh secrets in .env. To set it up, run:\n"
        f"{format_commands(STEPS, context['project_slug'])}\n"
        f"Then start it with `{MANAGE} runserver` and open first: {DEMO_URL}"
    )


def main() -> int:
    context = json.loads(COOKIECUTTER_CONTEXT)
    project_dir = Path.cwd()
    select_api_framework(project_dir, context["project_slug"], context["api_framework"])
    if is_rerender(context):
        return 0
    print(write_cruft_file(project_dir, context))
    try:
        env_values = write_env_file(project_dir)
    except (OSError, ValueError) as error:
        print(f"ERROR: could not write .env: {error}", file=sys.stderr)
        return 1
    if context["run_setup"] != "y":
        print_manual_steps(context)
        return 0
    if run_steps(STEPS, project_dir) != 0:
        return 1
    print_summary(context, env_values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
