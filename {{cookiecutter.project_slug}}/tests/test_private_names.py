"""
The names of DOT, allauth and Django that the engine relies on although they are not public,
where no public seam does the job, each with why. An upgrade that renames, removes or reshapes
one fails here, naming what to re-check; pyproject.toml lists the same beside the pins. A private
name the engine starts to use without a line here fails too.
"""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ENGINE_DIR = Path(__file__).resolve().parent.parent / "authserver"

# (module, attribute path, its parameters, where the engine uses it, why, what to re-check on an upgrade)
PRIVATE_NAMES = [
    (
        "oauth2_provider.oauth2_backends",
        "OAuthLibCore._get_escaped_full_path",
        ["self", "request"],
        "authserver/server.py",
        "oauthlib raises (a 500) on a '%' without two hex digits after it; DOT has no public seam for "
        "the URI it hands oauthlib, so the override gives it Django's leniently decoded query.",
        "how DOT's OAuthLibCore._extract_params builds the URI",
    ),
    (
        "oauth2_provider.oauth2_backends",
        "OAuthLibCore._extract_params",
        ["self", "request"],
        "authserver/server.py",
        "DOT's authenticate_client answers a bare bool; the override keeps the client DOT loaded, so "
        "that introspection needs no second lookup, and builds oauthlib's request as DOT does: DOT "
        "has no public seam for that request.",
        "OAuthLibCore.authenticate_client",
    ),
    (
        "oauth2_provider.oauth2_validators",
        "OAuth2Validator._load_access_token",
        ["self", "token"],
        "authserver/validator.py",
        "Where every bearer check loads its token: the cache of validated tokens goes in here; the "
        "public alternative replaces validate_bearer_token whole.",
        "OAuth2Validator.validate_bearer_token and _load_access_token",
    ),
    (
        "oauth2_provider.oauth2_validators",
        "OAuth2Validator._save_bearer_token",
        ["self", "token", "request", "args", "kwargs"],
        "authserver/validator.py",
        "The tokens' writes without DOT's atomic block around them, inside the request's transaction: "
        "a savepoint fewer per token. DOT's docstring names it the method to override.",
        "OAuth2Validator.save_bearer_token and _save_bearer_token (their OAuth errors before the first write)",
    ),
    (
        "oauth2_provider.cimd",
        "_validate_client_id_url",
        ["client_id"],
        "authserver/endpoints/registration.py",
        "The CIMD draft's checks of a client_id URL. The fetcher resolves the host once and judges the "
        "addresses itself (DOT's judge passes IPv4-compatible IPv6), so it makes DOT's fetch its own; "
        "DOT has no seam for the judge or the resolved addresses.",
        "oauth2_provider.cimd.SafeMetadataFetcher.fetch",
    ),
    (
        "oauth2_provider.cimd",
        "SafeMetadataFetcher._read_document",
        ["self", "response"],
        "authserver/endpoints/registration.py",
        "DOT's reading of a fetched document (status, type, size, Cache-Control), kept as it is by the "
        "fetcher that judges the addresses itself.",
        "oauth2_provider.cimd.SafeMetadataFetcher.fetch and _read_document",
    ),
    (
        "allauth.mfa.totp.internal.auth",
        "TOTP.validate_code",
        ["self", "code"],
        "authserver/accounts.py",
        "allauth's TOTP check, which records a code as spent (RFC 6238 §5.2): the enrolment form "
        "spends its code too. allauth offers no public way to.",
        "allauth.mfa.totp.forms.ActivateTOTPForm.clean_code and allauth.mfa.totp.internal.auth",
    ),
]
# Undocumented attributes, not underscored: (object path, where, why).
UNDOCUMENTED_ATTRIBUTES = [
    (
        "django.db.connection.run_on_commit",
        "authserver/token_cache.py",
        "a transaction's on_commit callbacks, read so that it bumps the token generation once",
    ),
]
# Underscored names that are public all the same: namedtuple's, and Django's documented model API.
PUBLIC_ALL_THE_SAME = {"_replace", "_meta", "_state"}


def resolve(module, path):
    target = importlib.import_module(module)
    for part in path.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize(("module", "path", "parameters", "where", "why", "recheck"), PRIVATE_NAMES)
def test_each_private_name_is_still_there(module, path, parameters, where, why, recheck):
    try:
        target = resolve(module, path)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{module}.{path} is gone ({error}); {where} relies on it: {why} Re-check {recheck}.")
    assert list(inspect.signature(target).parameters) == parameters, (
        f"{module}.{path} now takes {list(inspect.signature(target).parameters)}; {where} relies on it: "
        f"{why} Re-check {recheck}."
    )


def test_each_undocumented_attribute_is_still_there():
    from django.db import connection

    assert isinstance(connection.run_on_commit, list), UNDOCUMENTED_ATTRIBUTES[0]


def engine_definitions():
    """The underscored names the engine defines itself (functions, methods, variables)."""
    defined = set()
    for path in ENGINE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                defined.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
    return {name for name in defined if name.startswith("_")}


def test_the_engine_uses_no_other_private_name():
    """Every underscored attribute the engine reads or overrides is its own, or listed above."""
    listed = {path.rpartition(".")[2] for _module, path, *_ in PRIVATE_NAMES}
    own = engine_definitions() - listed
    used = set()
    for path in ENGINE_DIR.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                used.add(node.attr)
            if isinstance(node, ast.ImportFrom) and node.module and ".internal" in node.module:
                used.add(node.module)
    unlisted = used - own - PUBLIC_ALL_THE_SAME - listed - {module for module, *_ in PRIVATE_NAMES}
    assert not unlisted, (
        f"private names used by the engine but not listed in PRIVATE_NAMES: {sorted(unlisted)}"
    )


def engine_modules():
    for path in ENGINE_DIR.rglob("*.py"):
        if "migrations" not in path.parts:
            parts = path.relative_to(ENGINE_DIR.parent).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_engine_overrides_no_other_private_method():
    """A method of an engine class that overrides an underscored one of another package is listed above."""
    listed = {path.rpartition(".")[2] for _module, path, *_ in PRIVATE_NAMES}
    overrides = set()
    for name in engine_modules():
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != name:
                continue
            for attribute, value in vars(cls).items():
                # Underscored, not a dunder or an enum's _sunder_ name, and a method of the class's own.
                if not attribute.startswith("_") or attribute.startswith("__") or attribute.endswith("_"):
                    continue
                if not inspect.isfunction(value):
                    continue
                if any(
                    attribute in vars(base)
                    for base in cls.__mro__[1:]
                    if not base.__module__.startswith("authserver")
                ):
                    overrides.add(f"{cls.__qualname__}.{attribute}")
    unlisted = {override for override in overrides if override.rpartition(".")[2] not in listed}
    assert not unlisted, (
        f"private methods of other packages overridden but not listed in PRIVATE_NAMES: {sorted(unlisted)}"
    )


def calls_its_upstream_method(function):
    """Whether the method's body calls super().<its own name>(...) somewhere."""
    tree = ast.parse(inspect.getsource(function).strip().replace("\n    ", "\n"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == function.__name__
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "super"
        ):
            return True
    return False


def test_the_engine_extends_dots_view_methods_rather_than_replacing_them():
    """A method of an engine view that DOT's view defines too calls DOT's (super()), so that DOT's
    fixes to it still apply."""
    replaced = []
    for name in engine_modules():
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != name:
                continue
            upstream = [
                base for base in cls.__mro__[1:] if base.__module__.startswith("oauth2_provider.views")
            ]
            for attribute, value in vars(cls).items():
                if getattr(value, "view_policy", None) is not None:
                    # view_policy.declare's wrapper of dispatch: it calls the dispatch it wraps,
                    # the class's own (checked here) or an inherited one.
                    value = value.__wrapped__
                    if not value.__qualname__.startswith(f"{cls.__qualname__}."):
                        continue
                overrides_dot = inspect.isfunction(value) and any(
                    attribute in vars(base) for base in upstream
                )
                if overrides_dot and not calls_its_upstream_method(value):
                    replaced.append(f"{name}.{cls.__name__}.{attribute}")
    assert replaced == []
