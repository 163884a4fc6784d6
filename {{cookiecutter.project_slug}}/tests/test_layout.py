"""
The engine's files and the owner's apart (docs/layout.md): every file of authserver/ says on its
first line that it is the engine's, and no file of the owner's says so.
"""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ENGINE_DIR = PROJECT_DIR / "authserver"
# A Django comment opens with these two characters, which this file, rendered by the template's
# Jinja, may not hold side by side.
DJANGO_COMMENT = "{" + "#"
# The first line of each engine file, by kind.
HEADERS = {
    ".py": "# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit",
    ".html": DJANGO_COMMENT + " The engine's page: to change it, copy it to templates/ at the same path",
}


def engine_files():
    return [
        path
        for path in ENGINE_DIR.rglob("*")
        if path.is_file() and path.suffix in HEADERS and "__pycache__" not in path.parts
    ]


def test_every_engine_file_says_it_is_the_engines():
    files = engine_files()
    assert len(files) > 60
    unmarked = [
        str(path.relative_to(PROJECT_DIR))
        for path in files
        if not path.read_text(encoding="utf-8").startswith(HEADERS[path.suffix])
    ]
    assert unmarked == []


def is_copy_of_an_engine_template(path):
    """A page copied to templates/ as docs/customising.md says: its first line came with it."""
    relative = path.relative_to(PROJECT_DIR)
    return relative.parts[0] == "templates" and (ENGINE_DIR / relative).is_file()


def test_no_file_of_the_owners_says_it_is_the_engines():
    owners = [
        path
        for path in PROJECT_DIR.rglob("*")
        if path.is_file()
        and path.suffix in HEADERS
        and ENGINE_DIR not in path.parents
        and ".venv" not in path.parts
        and "__pycache__" not in path.parts
        and not is_copy_of_an_engine_template(path)
    ]
    claimed = [
        str(path.relative_to(PROJECT_DIR))
        for path in owners
        if path.read_text(encoding="utf-8").startswith(tuple(HEADERS.values()))
    ]
    assert claimed == []


def test_a_copy_of_an_engine_template_is_the_owners_with_its_first_line():
    assert is_copy_of_an_engine_template(PROJECT_DIR / "templates/oauth2_provider/authorize.html")
    assert not is_copy_of_an_engine_template(PROJECT_DIR / "templates/home.html")
    assert not is_copy_of_an_engine_template(PROJECT_DIR / "config/settings/base.py")
