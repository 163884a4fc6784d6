import ast
import importlib.util
import json
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .support import SECRET_KEYS, TEMPLATE_DIR, bake, run

HOOKS_DIR = Path(__file__).resolve().parent.parent / "hooks"
ENV_EXAMPLE = """\
# Local settings; copy to .env
DJANGO_DEBUG=True
DJANGO_SECRET_KEY=
DJANGO_SUPERUSER_USERNAME=admin
DJANGO_SUPERUSER_PASSWORD=

# OAuth clients created by seed_oauth_clients
OAUTH_SCOPES=read=Read your data,write=Change your data
OAUTH_DEMO_CLIENT_ID=
OAUTH_DEMO_CLIENT_SECRET=
OAUTH_M2M_CLIENT_ID=
OAUTH_M2M_CLIENT_SECRET=
"""
GOOD_CONTEXT = {
    "project_name": "My Authorization Server",
    "project_slug": "my_authorization_server",
    "description": "An OAuth server.",
    "author_name": "Your Name",
    "author_email": "you@example.com",
    "domain_name": "auth.example.com",
    "time_zone": "UTC",
    "oauth_scopes": "read=Read your data,write=Change your data",
    "superuser_username": "admin",
    "superuser_email": "you@example.com",
    "mcp_ready": "n",
    "api_framework": "none",
    "run_setup": "n",
}
# What cookiecutter's own bake adds to the answers (a re-render by cruft has none of _output_dir).
BAKE_KEYS = {"_template": str(TEMPLATE_DIR), "_repo_dir": str(TEMPLATE_DIR), "_checkout": None}
FAILING_COMMAND = [sys.executable, "-c", "import sys; sys.exit(3)"]


def load_hook(name):
    spec = importlib.util.spec_from_file_location(name, HOOKS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


pre = load_hook("pre_gen_project")
post = load_hook("post_gen_project")


@pytest.mark.parametrize("hook", ["pre_gen_project.py", "post_gen_project.py"])
def test_hook_imports_only_standard_library(hook):
    tree = ast.parse((HOOKS_DIR / hook).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.partition(".")[0])
    assert imported
    assert imported <= sys.stdlib_module_names


@pytest.mark.parametrize("hook", ["pre_gen_project.py", "post_gen_project.py"])
def test_template_syntax_is_only_in_the_context_constant(hook):
    source = (HOOKS_DIR / hook).read_text(encoding="utf-8")
    assert re.findall(r"\{\{|\{%", source) == ["{{"]
    assert 'COOKIECUTTER_CONTEXT = r"""{{ cookiecutter | jsonify }}"""' in source


@pytest.mark.parametrize("slug", ["my_auth_server", "auth2", "a", "idp_v2_"])
def test_validate_project_slug_accepts(slug):
    assert pre.validate_project_slug(slug) == slug


@pytest.mark.parametrize(
    ("slug", "accepted"),
    [
        ("My_App", "lowercase letters, digits and underscores"),
        ("my-app", "lowercase letters, digits and underscores"),
        ("2fa", "starting with a letter"),
        ("", "lowercase letters, digits and underscores"),
        ("app\n", "lowercase letters, digits and underscores"),
        ("class", "choose another name"),
        ("django", "choose another name"),
        ("config", "choose another name"),
        ("tests", "choose another name"),
        ("oauth2_provider", "choose another name"),
        ("keys", "choose another name"),
        ("json", "choose another name"),
        ("email", "choose another name"),
    ],
)
def test_validate_project_slug_rejects(slug, accepted):
    with pytest.raises(ValueError, match=accepted):
        pre.validate_project_slug(slug)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "read=Read your data,write=Change your data",
            {"read": "Read your data", "write": "Change your data"},
        ),
        (" read = Read it , api:write=Write it ", {"read": "Read it", "api:write": "Write it"}),
        ("orders.read=See orders", {"orders.read": "See orders"}),
        ("a-b_c=Let's go: now!", {"a-b_c": "Let's go: now!"}),
    ],
)
def test_parse_scopes(text, expected):
    assert pre.parse_scopes(text) == expected


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("", "at least one"),
        ("   ", "at least one"),
        ("read", "name=Description"),
        ("read=Read your data, and more", "cannot contain commas"),
        ("read=", "name=Description"),
        ("read=  ", "name=Description"),
        ("=Read", "letters, digits"),
        ("read it=Read", "letters, digits"),
        ("read=Read,,write=Write", "single commas"),
        ("read=Read,", "single commas"),
        ("openid=Sign in", "always provides openid, profile, email"),
        ("read=Read,Email=Mail", "always provides openid, profile, email"),
        ("read=A,read=B", "list each scope once"),
        ("read=a=b", "no , = # $ double quotes"),
        ("read=line\nbreak", "no , = # $ double quotes"),
        ('read=say "hi"', "no , = # $ double quotes"),
        ("read=costs $5", "no , = # $ double quotes"),
        ("read=item #1", "no , = # $ double quotes"),
    ],
)
def test_parse_scopes_rejects(text, accepted):
    with pytest.raises(ValueError, match=re.escape(accepted)):
        pre.parse_scopes(text)


@pytest.mark.parametrize("address", ["you@example.com", "a.b+c@mail.example.org", "x@localhost.dev"])
def test_validate_email_accepts(address):
    assert pre.validate_email(address) == address


@pytest.mark.parametrize(
    "address",
    ["", "you", "you@", "@example.com", "you@example", "a@b@example.com", "you @example.com", "you@.com"],
)
def test_validate_email_rejects(address):
    with pytest.raises(ValueError, match="you@example.com"):
        pre.validate_email(address)


@pytest.mark.parametrize(
    "name", ["auth.example.com", "localhost", "my-host.example.co.uk", "AUTH.Example.com"]
)
def test_validate_domain_name_accepts(name):
    assert pre.validate_domain_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "https://auth.example.com",
        "auth.example.com/",
        "auth.example.com:8000",
        "-auth.example.com",
        "auth-.example.com",
        "auth..example.com",
        "auth.example.com.",
        "auth_server.example.com",
        "a" * 64 + ".com",
    ],
)
def test_validate_domain_name_rejects(name):
    with pytest.raises(ValueError, match="without scheme, path or port"):
        pre.validate_domain_name(name)


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_validate_time_zone_accepts(name):
    assert pre.validate_time_zone(name) == name


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "utc", "Europe/Paris ", "../etc/passwd"])
def test_validate_time_zone_rejects(name):
    with pytest.raises(ValueError, match="UTC or Europe/Paris"):
        pre.validate_time_zone(name)


@pytest.mark.parametrize("name", ["admin", "jane.doe@example.com", "a+b-c_d", "ü", "x" * 150])
def test_validate_superuser_username_accepts(name):
    assert pre.validate_superuser_username(name) == name


@pytest.mark.parametrize("name", ["", "john doe", "admin!", "x" * 151])
def test_validate_superuser_username_rejects(name):
    with pytest.raises(ValueError, match="1 to 150 letters"):
        pre.validate_superuser_username(name)


@pytest.mark.parametrize("value", ["y", "n"])
def test_validate_run_setup_accepts(value):
    assert pre.validate_run_setup(value) == value


@pytest.mark.parametrize("value", ["", "yes", "Y", "no"])
def test_validate_run_setup_rejects(value):
    with pytest.raises(ValueError, match="use y to set everything up now or n"):
        pre.validate_run_setup(value)


@pytest.mark.parametrize("value", ["y", "n"])
def test_validate_mcp_ready_accepts(value):
    assert pre.validate_mcp_ready(value) == value


@pytest.mark.parametrize("value", ["", "yes", "Y", "true"])
def test_validate_mcp_ready_rejects(value):
    with pytest.raises(ValueError, match="use y to let MCP clients register themselves or n"):
        pre.validate_mcp_ready(value)


@pytest.mark.parametrize("value", ["none", "drf"])
def test_validate_api_framework_accepts(value):
    assert pre.validate_api_framework(value) == value


@pytest.mark.parametrize("value", ["", "DRF", "rest_framework", "ninja"])
def test_validate_api_framework_rejects(value):
    with pytest.raises(ValueError, match="use none .* or drf"):
        pre.validate_api_framework(value)


@pytest.mark.parametrize(("run_setup", "version"), [("y", (3, 11)), ("y", (3, 13)), ("n", (3, 9))])
def test_check_python_version_accepts(run_setup, version):
    pre.check_python_version(run_setup, version)


def test_check_python_version_rejects_old_python_for_setup():
    with pytest.raises(ValueError, match=r"Python 3\.10;.*under Python 3\.11\+ or answer run_setup=n"):
        pre.check_python_version("y", (3, 10))


def test_pre_main_accepts_good_context(monkeypatch, capsys):
    monkeypatch.setattr(pre, "COOKIECUTTER_CONTEXT", json.dumps(GOOD_CONTEXT))
    assert pre.main() == 0
    assert capsys.readouterr() == ("", "")


def test_pre_main_reports_first_bad_value_on_one_line(monkeypatch, capsys):
    context = GOOD_CONTEXT | {"project_slug": "django", "time_zone": "Nowhere", "run_setup": "maybe"}
    monkeypatch.setattr(pre, "COOKIECUTTER_CONTEXT", json.dumps(context))
    assert pre.main() == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith('ERROR: project_slug: "django" clashes')
    assert "; choose another name" in err


def write_example(directory):
    directory.mkdir(exist_ok=True)
    (directory / ".env.example").write_text(ENV_EXAMPLE, encoding="utf-8")
    return directory


def write_baked_project(directory):
    """What main() finds where cookiecutter has just written the project: .env.example, both sample APIs."""
    write_example(directory)
    api = directory / GOOD_CONTEXT["project_slug"] / "api"
    for path in (api / "views.py", api / "drf_views.py", directory / "tests" / "test_api_drf.py"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
    return directory


def test_write_env_file_fills_secrets_and_keeps_other_lines(tmp_path):
    values = post.write_env_file(write_example(tmp_path))

    assert set(values) == set(SECRET_KEYS)
    env_path = tmp_path / ".env"
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    assert sorted(path.name for path in tmp_path.iterdir()) == [".env", ".env.example"]
    written = env_path.read_text(encoding="utf-8").splitlines()
    example = ENV_EXAMPLE.splitlines()
    assert len(written) == len(example)
    for line, example_line in zip(written, example, strict=True):
        key = example_line.partition("=")[0]
        assert line == (f"{key}={values[key]}" if key in values else example_line)


def test_write_env_file_values_are_strong_and_need_no_quoting(tmp_path):
    values = post.write_env_file(write_example(tmp_path))

    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", value) for value in values.values())
    assert len(values["DJANGO_SECRET_KEY"]) >= 50
    assert len(values["DJANGO_SUPERUSER_PASSWORD"]) >= 24
    for key, length in [("ID", 40), ("SECRET", 64)]:
        for client in ("DEMO", "M2M"):
            assert re.fullmatch(rf"[A-Za-z0-9]{{{length}}}", values[f"OAUTH_{client}_CLIENT_{key}"])


def test_write_env_file_gives_each_project_its_own_secrets(tmp_path):
    first = post.write_env_file(write_example(tmp_path / "one"))
    second = post.write_env_file(write_example(tmp_path / "two"))
    assert all(first[key] != second[key] for key in SECRET_KEYS)


def test_write_env_file_refuses_to_overwrite(tmp_path):
    (write_example(tmp_path) / ".env").write_text("DJANGO_SECRET_KEY=keep-me\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="already exists"):
        post.write_env_file(tmp_path)
    assert (tmp_path / ".env").read_text(encoding="utf-8") == "DJANGO_SECRET_KEY=keep-me\n"


def test_write_env_file_rejects_example_without_secret_line(tmp_path):
    (tmp_path / ".env.example").write_text("DJANGO_SECRET_KEY=\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no line for DJANGO_SUPERUSER_PASSWORD"):
        post.write_env_file(tmp_path)
    assert list(tmp_path.iterdir()) == [tmp_path / ".env.example"]


def test_read_env_file(tmp_path):
    env_path = tmp_path / ".env"
    env_path.write_text(
        "# comment\n\nA=1\nB = two words \nC='quoted # value'\nD=\"x=y\"\n"
        "E=\nOAUTH_SCOPES=read=Read\nnot a pair\n",
        encoding="utf-8",
    )
    assert post.read_env_file(env_path) == {
        "A": "1",
        "B": "two words",
        "C": "quoted # value",
        "D": "x=y",
        "E": "",
        "OAUTH_SCOPES": "read=Read",
    }


def write_both_apis(project_dir):
    api = project_dir / "pkg" / "api"
    api.mkdir(parents=True)
    (api / "views.py").write_text("# plain Django\n")
    (api / "drf_views.py").write_text("# Django REST framework\n")
    (project_dir / "tests").mkdir()
    (project_dir / "tests" / "test_api.py").write_text("")
    (project_dir / "tests" / "test_api_drf.py").write_text("")
    return api


@pytest.mark.parametrize(
    ("framework", "views", "tests"),
    [
        ("none", "# plain Django\n", ["test_api.py"]),
        ("drf", "# Django REST framework\n", ["test_api.py", "test_api_drf.py"]),
    ],
)
def test_select_api_framework_keeps_the_chosen_views_and_their_tests(tmp_path, framework, views, tests):
    api = write_both_apis(tmp_path)
    post.select_api_framework(tmp_path, "pkg", framework)
    assert sorted(path.name for path in api.iterdir()) == ["views.py"]
    assert (api / "views.py").read_text() == views
    assert sorted(path.name for path in (tmp_path / "tests").iterdir()) == tests


def test_read_requirements_and_manual_pip_command_agree(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["Django>=5.2,<6", "psycopg[binary]>=3.2"]\n'
        '[project.optional-dependencies]\ndev = ["pytest>=8", "ruff ; python_version >= \'3.11\'"]\n',
        encoding="utf-8",
    )
    expected = ["Django>=5.2,<6", "psycopg[binary]>=3.2", "pytest>=8", "ruff ; python_version >= '3.11'"]
    assert post.read_requirements(tmp_path) == expected
    printed = subprocess.run(
        [sys.executable, "-c", post.PRINT_REQUIREMENTS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout.splitlines() == expected


def test_run_command_returns_output_and_raises_with_output(tmp_path):
    assert post.run_command([sys.executable, "-c", "print('hello')"], tmp_path) == "hello\n"
    with pytest.raises(post.CommandFailed) as failure:
        post.run_command([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], tmp_path)
    assert failure.value.returncode == 3
    assert failure.value.output == "boom\n"


def test_run_steps_reports_failure_and_remaining_commands(tmp_path, capsys):
    done = []
    steps = (
        post.Step("First step", done.append, "echo first", leaves="the first thing"),
        post.Step(
            "Failing step",
            lambda project_dir: post.run_command(FAILING_COMMAND, project_dir),
            'python -c "import sys; sys.exit(3)"',
            "python3 -c pass",
            leaves="the half-done thing",
        ),
        post.Step("Last step", done.append, "echo last"),
    )

    assert post.run_steps(steps, tmp_path) == 1

    assert done == [tmp_path]
    out, err = capsys.readouterr()
    assert "[1/3] First step ..." in out
    assert "[2/3] Failing step ..." in out
    assert "[3/3]" not in out
    assert "step 2/3 (Failing step) failed" in err
    assert "exit code 3" in err
    assert "Left behind: .env with fresh secrets" in err
    assert "the first thing, the half-done thing.\n" in err
    manual = err.split("then run:\n", 1)[1]
    assert manual.splitlines() == [
        f"  cd {tmp_path}",
        '  python -c "import sys; sys.exit(3)"',
        "    # without uv: python3 -c pass",
        "  echo last",
    ]


def test_run_steps_shows_only_the_end_of_the_output(tmp_path, capsys):
    noisy = [sys.executable, "-c", "import sys; [print('line', n) for n in range(30)]; sys.exit(1)"]
    steps = (post.Step("Noisy step", lambda project_dir: post.run_command(noisy, project_dir), "noisy"),)

    assert post.run_steps(steps, tmp_path) == 1

    err = capsys.readouterr().err
    assert "  | line 29" in err
    assert "  | line 10" in err
    assert "line 9\n" not in err


def test_run_steps_only_warns_about_optional_step(tmp_path, capsys):
    done = []
    steps = (
        post.Step(
            "Optional step",
            lambda project_dir: post.run_command(FAILING_COMMAND, project_dir),
            "optional",
            required=False,
        ),
        post.Step("Last step", done.append, "echo last"),
    )

    assert post.run_steps(steps, tmp_path) == 0

    assert done == [tmp_path]
    assert capsys.readouterr().err.startswith("WARNING: Optional step failed")


def test_create_superuser_accepts_existing_user(tmp_path, monkeypatch):
    """An admin from an earlier run is kept; its e-mail address is verified either way (for resets)."""
    calls = []

    def already_taken(project_dir, *args):
        calls.append(args)
        if args[0] == "createsuperuser":
            raise post.CommandFailed(
                ["manage.py", *args], 1, "CommandError: Error: That username is already taken.\n"
            )

    monkeypatch.setattr(post, "run_manage", already_taken)
    post.create_superuser(tmp_path)
    assert calls == [("createsuperuser", "--noinput"), ("verify_email",)]


def test_create_superuser_reports_other_errors(tmp_path, monkeypatch):
    def broken(project_dir, *args):
        raise post.CommandFailed(["manage.py", *args], 1, "django.db.utils.OperationalError: no such table\n")

    monkeypatch.setattr(post, "run_manage", broken)
    with pytest.raises(post.CommandFailed):
        post.create_superuser(tmp_path)


def test_create_signing_key_keeps_existing_key(tmp_path, monkeypatch):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "oidc.key").write_text("existing", encoding="utf-8")
    monkeypatch.setattr(post, "run_manage", lambda *args: pytest.fail("create_oidc_key must not run"))
    post.create_signing_key(tmp_path)


def test_run_manage_passes_env_file_values(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("DJANGO_SUPERUSER_USERNAME=from-env-file\n", encoding="utf-8")
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "from-shell")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "other_project.settings")
    calls = []
    monkeypatch.setattr(post, "run_command", lambda args, project_dir, env: calls.append((args, env)))

    post.run_manage(tmp_path, "migrate", "--noinput")

    [(args, env)] = calls
    assert args == [".venv/bin/python", "manage.py", "migrate", "--noinput"]
    assert env["DJANGO_SUPERUSER_USERNAME"] == "from-env-file"
    assert "DJANGO_SETTINGS_MODULE" not in env


def test_print_manual_steps_lists_every_command(capsys):
    post.print_manual_steps(GOOD_CONTEXT)
    out = capsys.readouterr().out
    assert "  cd my_authorization_server\n" in out
    for command in (
        "uv venv .venv",
        "python3 -m venv .venv",
        "uv pip install --python .venv/bin/python -r pyproject.toml --extra dev",
        "-m pip install -r /dev/stdin",
        ".venv/bin/python manage.py create_oidc_key",
        ".venv/bin/python manage.py migrate --noinput",
        ".venv/bin/python manage.py createsuperuser --noinput",
        ".venv/bin/python manage.py verify_email",
        ".venv/bin/python manage.py seed_oauth_clients",
    ):
        assert command in out
    order = ["create_oidc_key", "migrate --noinput", "createsuperuser", "seed_oauth_clients"]
    assert [out.index(command) for command in order] == sorted(out.index(command) for command in order)


def test_print_summary_shows_urls_and_ids_but_no_secrets(capsys):
    env_values = {key: f"value-of-{key}" for key in SECRET_KEYS}
    post.print_summary(GOOD_CONTEXT, env_values)
    out = capsys.readouterr().out
    for expected in (
        "http://localhost:8000/accounts/login/",
        "http://localhost:8000/admin/",
        "http://localhost:8000/.well-known/openid-configuration",
        "user admin",
        "DJANGO_SUPERUSER_PASSWORD in .env",
        "http://localhost:8000/accounts/2fa/",
        "value-of-OAUTH_DEMO_CLIENT_ID",
        "value-of-OAUTH_M2M_CLIENT_ID",
        "cd my_authorization_server",
        ".venv/bin/python manage.py runserver",
        ".venv/bin/python -m pytest",
    ):
        assert expected in out
    for secret in ("DJANGO_SECRET_KEY", "DJANGO_SUPERUSER_PASSWORD", "CLIENT_SECRET"):
        assert f"value-of-{secret}" not in out


def bake_context(output_dir, **answers):
    return {**GOOD_CONTEXT, **BAKE_KEYS, "_output_dir": str(output_dir), **answers}


def test_post_main_without_setup_writes_env_and_prints_steps(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(write_baked_project(tmp_path))
    monkeypatch.setattr(post, "COOKIECUTTER_CONTEXT", json.dumps(bake_context(tmp_path.parent)))

    assert post.main() == 0

    assert set(post.read_env_file(tmp_path / ".env")) >= set(SECRET_KEYS)
    assert (tmp_path / ".cruft.json").is_file()
    assert "manage.py migrate --noinput" in capsys.readouterr().out


def test_post_main_refuses_existing_env(tmp_path, monkeypatch, capsys):
    (write_baked_project(tmp_path) / ".env").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(post, "COOKIECUTTER_CONTEXT", json.dumps(bake_context(tmp_path.parent)))

    assert post.main() == 1
    assert capsys.readouterr().err.startswith("ERROR: could not write .env:")


@pytest.mark.parametrize("run_setup", ["y", "n"])
def test_a_rerender_by_cruft_shapes_the_files_and_does_nothing_else(tmp_path, monkeypatch, capsys, run_setup):
    """cruft update renders the template twice with the recorded answers and no _output_dir: the
    files come out as the bake's did, and no secret, setup, record or output comes with them."""
    project = write_baked_project(tmp_path)
    monkeypatch.chdir(project)
    answers = {**GOOD_CONTEXT, "api_framework": "drf", "run_setup": run_setup}
    monkeypatch.setattr(
        post, "COOKIECUTTER_CONTEXT", json.dumps({**answers, "_template": "x", "_commit": "y"})
    )
    monkeypatch.setattr(post, "run_steps", lambda *args: pytest.fail("a re-render ran the setup"))

    assert post.main() == 0

    api = project / GOOD_CONTEXT["project_slug"] / "api"
    assert (api / "views.py").exists() and not (api / "drf_views.py").exists()
    assert not (project / ".env").exists() and not (project / ".cruft.json").exists()
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("gh:acme/auth-template", "https://github.com/acme/auth-template.git"),
        ("gl:acme/auth-template", "https://gitlab.com/acme/auth-template.git"),
        ("https://example.com/acme/auth-template.git", "https://example.com/acme/auth-template.git"),
        ("git@github.com:acme/auth-template.git", "git@github.com:acme/auth-template.git"),
        (str(TEMPLATE_DIR), str(TEMPLATE_DIR)),
    ],
)
def test_template_source_is_what_cruft_can_clone(template, expected, tmp_path):
    assert post.template_source({"_template": template, "_output_dir": str(tmp_path)}) == expected


def test_template_source_finds_a_relative_path_from_the_output_folder(tmp_path):
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "cookiecutter.json").write_text("{}", encoding="utf-8")
    context = {"_template": "../template", "_output_dir": str(tmp_path / "projects")}
    (tmp_path / "projects").mkdir()

    assert post.template_source(context) == str(tmp_path / "template")
    assert post.template_source({**context, "_template": "../elsewhere"}) is None


def test_template_source_is_cookiecutters_own_path_to_a_local_template(tmp_path):
    """`cookiecutter -o elsewhere .`: "." names the template from a folder the hook cannot see,
    and cookiecutter's _repo_dir is its absolute path."""
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "cookiecutter.json").write_text("{}", encoding="utf-8")
    context = {
        "_template": ".",
        "_output_dir": str(tmp_path / "out"),
        "_repo_dir": str(tmp_path / "template"),
    }

    assert post.template_source(context) == str(tmp_path / "template")


def test_write_cruft_file_records_the_template_commit_and_answers(tmp_path):
    head = run(["git", "rev-parse", "HEAD"], cwd=TEMPLATE_DIR).stdout.strip()

    message = post.write_cruft_file(tmp_path, bake_context(tmp_path.parent, run_setup="y"))

    state = json.loads((tmp_path / ".cruft.json").read_text(encoding="utf-8"))
    assert state["template"] == str(TEMPLATE_DIR) and state["commit"] == head
    assert state["checkout"] is None and state["directory"] is None
    answers = state["context"]["cookiecutter"]
    assert answers == {**GOOD_CONTEXT, "_template": str(TEMPLATE_DIR), "_commit": head, "run_setup": "n"}
    # In the order cruft writes them after an update: cookiecutter.json's, then _template, _commit.
    assert list(answers) == [*GOOD_CONTEXT, "_template", "_commit"]
    assert head[:12] in message and "cruft update" in message


def test_write_cruft_file_says_what_to_do_without_a_git_checkout(tmp_path):
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "cookiecutter.json").write_text("{}", encoding="utf-8")
    context = bake_context(
        tmp_path, _template=str(tmp_path / "template"), _repo_dir=str(tmp_path / "template")
    )
    project = tmp_path / "project"
    project.mkdir()

    message = post.write_cruft_file(project, context)

    assert not (project / ".cruft.json").exists()
    assert "cruft link" in message


def test_init_git_repository_commits_the_baked_files_and_no_secret(tmp_path, monkeypatch):
    # No identity of the user's own (HOME without a .gitconfig): the answers' author commits.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setattr(post, "COOKIECUTTER_CONTEXT", json.dumps(GOOD_CONTEXT))
    project = tmp_path / "project"
    (project / "keys").mkdir(parents=True)
    (project / ".gitignore").write_text(".env\nkeys/\n", encoding="utf-8")
    (project / ".env").write_text("DJANGO_SECRET_KEY=secret\n", encoding="utf-8")
    (project / "keys" / "oidc.key").write_text("key", encoding="utf-8")
    (project / "manage.py").write_text("", encoding="utf-8")

    post.init_git_repository(project)

    log = run(["git", "log", "--format=%an <%ae>|%s"], cwd=project).stdout.splitlines()
    assert log == [f"Your Name <you@example.com>|{post.FIRST_COMMIT_MESSAGE}"]
    assert run(["git", "ls-files"], cwd=project).stdout.split() == [".gitignore", "manage.py"]
    assert run(["git", "status", "--porcelain"], cwd=project).stdout == ""


@pytest.mark.parametrize("text", ["Acme Identity", "Bob's Auth", "Zoë O'Brien", "Braces {like} these"])
def test_validate_plain_text_accepts(text):
    assert pre.validate_plain_text(text) == text


@pytest.mark.parametrize("text", ["", "   ", 'Say "hi"', "back\\slash", "two\nlines", "{{ x }}", "{% if %}"])
def test_validate_plain_text_rejects(text):
    with pytest.raises(ValueError, match="without double quotes, backslashes"):
        pre.validate_plain_text(text)


def test_print_summary_ends_with_the_url_to_open_first(capsys):
    post.print_summary(GOOD_CONTEXT, {key: "x" for key in SECRET_KEYS})
    last_line = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert last_line.split()[:3] == ["Open", "first:", "http://localhost:8000/demo/"]


def test_print_summary_lines_are_short_and_aligned(capsys):
    post.print_summary(GOOD_CONTEXT, {key: "x" * 40 for key in SECRET_KEYS})
    lines = capsys.readouterr().out.strip().splitlines()
    assert all(len(line) < 100 for line in lines), max(lines, key=len)
    labelled = [line for line in lines if not line.startswith(" ") and ": " in line and "ready" not in line]
    assert len(labelled) >= 9 and any(line.startswith("Second factor: ") for line in labelled)
    # Every value starts in the same column, however long its label.
    assert len({len(line) - len(line.split(":", 1)[1].lstrip()) for line in labelled}) == 1


def test_heartbeat_shows_a_long_step_is_alive(capsys):
    with post.heartbeat("still installing", seconds=0.05):
        time.sleep(0.2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2 and all("still installing" in line for line in lines)


def test_the_baked_project_records_its_template_and_answers_for_cruft(tmp_path):
    project = bake(tmp_path, project_name="Acme Identity")
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == str(TEMPLATE_DIR)
    assert state["commit"] == run(["git", "rev-parse", "HEAD"], cwd=TEMPLATE_DIR).stdout.strip()
    answers = state["context"]["cookiecutter"]
    assert answers["project_name"] == "Acme Identity" and answers["project_slug"] == "acme_identity"
    assert not {"_output_dir", "_repo_dir"} & set(answers)
    assert not (project / ".cookiecutter.json").exists()
