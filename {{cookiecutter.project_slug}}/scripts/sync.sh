#!/usr/bin/env bash
# After `cruft update` (docs/upgrading.md), or after you change pyproject.toml: install what
# pyproject.toml now asks for into .venv, apply the new migrations, and run Django's checks.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
if [ ! -x "$python" ]; then
  echo "No virtualenv at .venv: create it first (uv venv .venv, or python3 -m venv .venv)." >&2
  exit 1
fi
if command -v uv >/dev/null 2>&1; then
  uv pip install --quiet --python "$python" -r pyproject.toml --extra dev
else
  "$python" -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(*p["dependencies"], *p["optional-dependencies"]["dev"], sep="\n")' \
    | "$python" -m pip install --quiet -r /dev/stdin
fi
"$python" manage.py migrate --noinput
"$python" manage.py check
