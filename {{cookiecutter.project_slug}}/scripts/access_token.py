#!/usr/bin/env python3
"""
Print the access token of a token endpoint's JSON answer read on stdin, for the curl examples
of README.md and docs/clients.md: `TOKEN=$(curl ... /o/token/ | python3 scripts/access_token.py)`.

An error answer (RFC 6749 §5.2) prints its `error` and `error_description` to stderr instead,
and exits 1, as does an answer that is not JSON (no server, a proxy's page): never a traceback.
"""

import json
import sys


def access_token(answer: str) -> str:
    """The access token in `answer`, or ValueError with the server's words for why not."""
    if not answer.strip():
        raise ValueError("no answer from the token endpoint: is the server running, at that URL?")
    try:
        document = json.loads(answer)
    except json.JSONDecodeError:
        raise ValueError(f"the token endpoint's answer is not JSON: {answer[:200]!r}") from None
    if not isinstance(document, dict):
        raise ValueError(f"the token endpoint's answer is not a JSON object: {answer[:200]!r}")
    if "access_token" in document:
        return str(document["access_token"])
    error = document.get("error", "no access_token in the answer")
    description = document.get("error_description")
    raise ValueError(f"{error}: {description}" if description else str(error))


def main() -> int:
    try:
        print(access_token(sys.stdin.read()))
    except ValueError as problem:
        print(f"token request refused: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
