"""
The docs stay true to the project: every pointer into docs/ from the code, templates, settings,
deploy files and the docs themselves names a page and a heading that exist; every relative link
of README.md and docs/ resolves; every project file, test and code name the docs give exists; no
pointer names a section of the README, which stays a short index.
"""

import fnmatch
import importlib
import re
from pathlib import Path

import pytest
from django.conf import settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
DOCS_DIR = PROJECT_DIR / "docs"
README = PROJECT_DIR / "README.md"
# The owner's package, the first part of the adapter's dotted path.
PACKAGE = settings.OAUTH_SERVER_ADAPTER.partition(".")[0]
README_MOST_LINES = 250

# The project's own text: code, templates, settings, deploy files, docs. Not its environments,
# caches, secrets or collected static files.
TEXT_SUFFIXES = {".py", ".html", ".md", ".toml", ".yaml", ".yml", ".conf", ".service", ".timer", ".example"}
TEXT_NAMES = {"Dockerfile", "Procfile", ".dockerignore"}
SKIPPED_DIRECTORIES = {"__pycache__", "staticfiles", "keys", "secrets", "node_modules"}

# docs/<page>.md, with an optional #anchor; not a URL's path (…/docs/current/…).
DOCS_POINTER = re.compile(r"(?<![\w/.-])docs/([\w-]+)\.md(?:#([\w-]+))?")
# A markdown link or image: [text](target).
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")
# A path in the project, from its folder: the engine, the settings, the pages, the deploy files,
# the tests, the docs, the owner's package. Package-relative paths (oauth/..., middleware/...) are
# not project paths.
PROJECT_PATH = re.compile(
    rf"(?<![\w/.~$-])((?:authserver|config|templates|static|deploy|scripts|tests|docs|{re.escape(PACKAGE)})/[\w./-]*)"
    r"(?:::(\w+))?"
)
# The template's own tests, which the conformance and security tables name too.
TEMPLATE_TEST_MARK = "template: "
# What the old README-section pointers looked like.
SECTION_POINTER = re.compile(r"README(?:'s)?,?\s+\"|\bREADME\s+section|[Ss]ee \"[A-Z]")
# A dotted name in the How column of the tables: a module under authserver/ (or the owner's
# package) and what it defines. Not a system check id such as oauth.E004, a file such as
# gunicorn.conf.py, or a logger the settings configure, such as django.server.
CODE_NAME = re.compile(r"[a-z_][a-z0-9_]*(?:\.[A-Za-z_]\w*)+")
CHECK_ID = re.compile(r"[A-Z]\d{3}")
LOGGERS = set(settings.LOGGING.get("loggers", {}))


def is_code_name(code):
    return (
        CODE_NAME.fullmatch(code) is not None
        and not CHECK_ID.fullmatch(code.rpartition(".")[2])
        and not (PROJECT_DIR / code).is_file()
        and code not in LOGGERS
    )


def project_text_files():
    for path in sorted(PROJECT_DIR.rglob("*")):
        parts = path.relative_to(PROJECT_DIR).parts
        if any(part.startswith(".") or part in SKIPPED_DIRECTORIES for part in parts[:-1]):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            yield path


def relative(path):
    return str(path.relative_to(PROJECT_DIR))


def without_code_blocks(text):
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def slug(heading):
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown_file):
    """The anchors of a markdown file's headings (fenced code left out), repeats numbered as GitHub does."""
    found, seen = set(), {}
    for line in without_code_blocks(markdown_file.read_text()).splitlines():
        heading = re.match(r"#{1,6}\s+(.+?)\s*#*$", line)
        if heading:
            anchor = slug(heading.group(1))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(f"{anchor}-{count}" if count else anchor)
    return found


def markdown_files():
    return [README, *sorted(DOCS_DIR.glob("*.md"))]


def ignored_by_git(path):
    """Whether .gitignore keeps `path` out of the repository: files the owner writes (secrets)."""
    patterns = [
        line.strip().rstrip("/")
        for line in (PROJECT_DIR / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return any(fnmatch.fnmatch(part, pattern) for part in Path(path).parts for pattern in patterns)


def test_the_docs_are_there():
    assert {path.stem for path in DOCS_DIR.glob("*.md")} >= {
        "layout",
        "customising",
        "deploy",
        "security",
        "conformance",
        "performance",
        "mcp",
        "accounts",
        "containers",
        "operations",
        "api",
        "upgrading",
    }


def test_the_readme_is_a_short_index():
    lines = README.read_text().splitlines()
    assert len(lines) < README_MOST_LINES, f"README.md has {len(lines)} lines: move a topic into docs/"
    linked = {Path(target.partition("#")[0]).name for target in LINK.findall(README.read_text())}
    unlisted = {path.name for path in DOCS_DIR.glob("*.md")} - linked
    assert not unlisted, f"README.md links none of {sorted(unlisted)}"


def test_every_pointer_into_the_docs_exists():
    missing = []
    for path in project_text_files():
        for page, anchor in DOCS_POINTER.findall(path.read_text(encoding="utf-8")):
            target = DOCS_DIR / f"{page}.md"
            if not target.is_file():
                missing.append(f"{relative(path)}: docs/{page}.md")
            elif anchor and anchor not in anchors(target):
                missing.append(f"{relative(path)}: docs/{page}.md#{anchor}")
    assert not missing, missing


def test_no_pointer_names_a_readme_section():
    stale = [
        f"{relative(path)}: {text[match.start() : match.end() + 40].splitlines()[0]}"
        for path in project_text_files()
        for text in [path.read_text(encoding="utf-8")]
        for match in SECTION_POINTER.finditer(text)
    ]
    assert not stale, f"point at docs/<page>.md#<heading> instead: {stale}"


def link_resolves(markdown, target):
    """Whether a relative link of `markdown` leads to a file, and to one of its headings."""
    file_part, _, anchor = target.partition("#")
    linked = (markdown.parent / file_part).resolve() if file_part else markdown
    if not linked.exists():
        return False
    return not anchor or (linked.suffix == ".md" and anchor in anchors(linked))


def test_every_relative_link_of_the_docs_resolves():
    broken = [
        f"{relative(markdown)}: {target}"
        for markdown in markdown_files()
        for target in LINK.findall(without_code_blocks(markdown.read_text()))
        # Not https:, mailto: and the like.
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not link_resolves(markdown, target)
    ]
    assert not broken, broken


def test_every_file_and_test_the_docs_name_exists():
    missing = []
    for markdown in markdown_files():
        text = markdown.read_text()
        for match in PROJECT_PATH.finditer(text):
            if text[: match.start()].endswith(TEMPLATE_TEST_MARK):
                continue
            path, test_name = match.group(1).rstrip("."), match.group(2)
            target = PROJECT_DIR / path
            # A copy of an engine template under templates/ is the owner's to make.
            engine_template = path.startswith("templates/") and (PROJECT_DIR / "authserver" / path).exists()
            if not (target.exists() or engine_template or ignored_by_git(path)):
                missing.append(f"{relative(markdown)}: {path}")
            elif test_name and not re.search(rf"^(async )?def {test_name}\(", target.read_text(), re.M):
                missing.append(f"{relative(markdown)}: {path}::{test_name}")
    assert not missing, missing


def how_column_names():
    """The dotted names in the How column of the conformance and security tables."""
    names = set()
    for page in ("conformance", "security"):
        column = None
        for line in (DOCS_DIR / f"{page}.md").read_text().splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            if not line.startswith("|"):
                column = None
            elif "How" in cells:
                column = cells.index("How")
            elif column is not None and len(cells) > column:
                for code in re.findall(r"`([^`]+)`", cells[column]):
                    if is_code_name(code):
                        names.add(code)
    return sorted(names)


def resolve(dotted):
    """The object `dotted` names: a module under authserver/, or the owner's package, and attributes."""
    parts = dotted.split(".")
    root = [] if parts[0] == PACKAGE else ["authserver"]
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(root + parts[:cut])
        try:
            target = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if not (error.name == module_name or module_name.startswith(f"{error.name}.")):
                raise
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(dotted)


def test_the_tables_name_code_to_check():
    assert len(how_column_names()) > 40


@pytest.mark.parametrize("name", how_column_names())
def test_every_code_name_in_the_tables_exists(name):
    try:
        resolve(name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"docs/conformance.md or docs/security.md names {name}, which is gone ({error})")
