"""Check the cookiecutter answers before any file is written."""

import json
import keyword
import re
import sys
import zoneinfo

COOKIECUTTER_CONTEXT = r"""{{ cookiecutter | jsonify }}"""

# A package with one of these names would be imported instead of (or clash with) a dependency or a
# top-level folder of the generated project.
PROJECT_MODULES = frozenset(
    {
        "authserver",
        "config",
        "django",
        "environ",
        "gunicorn",
        "jwcrypto",
        "keys",
        "manage",
        "oauth2_provider",
        "oauthlib",
        "psycopg",
        "pytest",
        "site",
        "static",
        "templates",
        "test",
        "tests",
        "whitenoise",
    }
)
RESERVED_SCOPES = ("openid", "profile", "email")
SCOPE_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")
EMAIL_ADDRESS = re.compile(r"[^@\s]+@([^@\s.]+\.)+[^@\s.]+")
# Django's default username rule (UnicodeUsernameValidator and the 150-character field).
DJANGO_USERNAME = re.compile(r"[\w.@+-]{1,150}")
MINIMUM_PYTHON = (3, 11)
API_FRAMEWORKS = ("none", "drf")


def validate_project_slug(slug: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug):
        raise ValueError(
            f'"{slug}" is not a lowercase Python identifier; '
            "use lowercase letters, digits and underscores, starting with a letter (e.g. my_auth_server)"
        )
    if keyword.iskeyword(slug):
        raise ValueError(f'"{slug}" is a Python keyword; choose another name (e.g. {slug}_server)')
    if slug in PROJECT_MODULES or slug in sys.stdlib_module_names:
        raise ValueError(
            f'"{slug}" clashes with a Python module or folder the project uses; '
            f"choose another name (e.g. {slug}_server)"
        )
    return slug


def parse_scopes(text: str) -> dict[str, str]:
    if not text.strip():
        raise ValueError("no scope given; give at least one as name=Description (e.g. read=Read your data)")
    scopes: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            raise ValueError("empty entry (stray comma?); separate name=Description pairs with single commas")
        if "=" not in item:
            raise ValueError(
                f'"{item.strip()}" is not a name=Description pair; '
                "separate scopes with commas (descriptions cannot contain commas)"
            )
        name, _, description = (part.strip() for part in item.partition("="))
        if not SCOPE_NAME.fullmatch(name):
            raise ValueError(f'scope name "{name}" is not allowed; use only letters, digits and _ . : -')
        if name.lower() in RESERVED_SCOPES:
            raise ValueError(
                f'scope "{name}" is reserved; remove it (the project always provides openid, profile, email)'
            )
        if name in scopes:
            raise ValueError(f'scope "{name}" is listed twice; list each scope once')
        if not description:
            raise ValueError(f'scope "{name}" has no description; write each scope as name=Description')
        if re.search(r'[=#$"\\\r\n]', description):
            raise ValueError(
                f'the description of scope "{name}" contains a character a .env value cannot carry; '
                "use plain words: no , = # $ double quotes, backslashes or line breaks"
            )
        scopes[name] = description
    return scopes


def validate_plain_text(text: str) -> str:
    # These answers land inside Python and TOML string literals and Jinja-rendered files.
    if not text.strip() or re.search(r'["\\\r\n]|\{\{|\{\%', text):
        raise ValueError(
            f"{text!r} cannot be used; write non-empty plain text on one line, "
            "without double quotes, backslashes or Jinja braces"
        )
    return text


def validate_email(address: str) -> str:
    if not EMAIL_ADDRESS.fullmatch(address):
        raise ValueError(
            f'"{address}" is not a valid e-mail address; use a plain address like you@example.com'
        )
    return address


def validate_domain_name(name: str) -> str:
    if len(name) > 253 or not HOST_NAME.fullmatch(name):
        raise ValueError(
            f'"{name}" is not a host name; give only the host, without scheme, path or port '
            "(e.g. auth.example.com or localhost)"
        )
    return name


def validate_time_zone(name: str) -> str:
    # UTC is always valid, even where the system has no time zone database to list.
    if name != "UTC" and name not in zoneinfo.available_timezones():
        raise ValueError(f'"{name}" is not an IANA time zone; use a name like UTC or Europe/Paris')
    return name


def validate_superuser_username(name: str) -> str:
    if not DJANGO_USERNAME.fullmatch(name):
        raise ValueError(
            f'"{name}" is not a valid Django username; use 1 to 150 letters, digits and @ . + - _'
        )
    return name


def validate_run_setup(value: str) -> str:
    if value not in ("y", "n"):
        raise ValueError(f'"{value}" is not an answer; use y to set everything up now or n to do it by hand')
    return value


def validate_mcp_ready(value: str) -> str:
    if value not in ("y", "n"):
        raise ValueError(
            f'"{value}" is not an answer; use y to let MCP clients register themselves or n to keep '
            "client registration to the admin"
        )
    return value


def validate_api_framework(value: str) -> str:
    if value not in API_FRAMEWORKS:
        raise ValueError(
            f'"{value}" is not an API framework; use none (plain Django views) or drf (Django REST framework)'
        )
    return value


def check_python_version(run_setup: str, version: tuple[int, ...] = sys.version_info[:2]) -> None:
    # The setup builds the project's virtualenv from the interpreter running cookiecutter.
    if run_setup == "y" and version < MINIMUM_PYTHON:
        running = ".".join(str(part) for part in version)
        raise ValueError(
            f"run_setup=y needs Python 3.11+ but cookiecutter runs on Python {running}; "
            "run cookiecutter under Python 3.11+ or answer run_setup=n"
        )


FIELD_VALIDATORS = (
    ("project_name", validate_plain_text),
    ("project_slug", validate_project_slug),
    ("description", validate_plain_text),
    ("author_name", validate_plain_text),
    ("author_email", validate_email),
    ("domain_name", validate_domain_name),
    ("time_zone", validate_time_zone),
    ("oauth_scopes", parse_scopes),
    ("superuser_username", validate_superuser_username),
    ("superuser_email", validate_email),
    ("mcp_ready", validate_mcp_ready),
    ("api_framework", validate_api_framework),
    ("run_setup", validate_run_setup),
)


def validate_context(context: dict) -> None:
    for field, validate in FIELD_VALIDATORS:
        try:
            validate(context[field])
        except ValueError as error:
            raise ValueError(f"{field}: {error}") from None
    check_python_version(context["run_setup"])


def main() -> int:
    context = json.loads(COOKIECUTTER_CONTEXT)
    try:
        validate_context(context)
    except ValueError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
