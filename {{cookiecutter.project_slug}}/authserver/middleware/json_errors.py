# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Errors of the views whose policy answers in JSON (view_policy.Answers.JSON) are labelled as JSON.

RFC 6749 §5.1-5.2 (and RFC 7662, RFC 7009, OIDC Core §5.3.3 after them) answer errors as JSON,
application/json; oauthlib and DOT leave the type off some (DOT's UserInfo sends its JSON error
as text/html). A body that is not JSON is left as it is.
"""

import json

from ..view_policy import Answers, policy_of_request

JSON = "application/json"


def is_json(content):
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


class JSONErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and not response.get("Content-Type", "").startswith(JSON)
            and not getattr(response, "streaming", False)
            and response.content
            and policy_of_request(request).answers is Answers.JSON
            and is_json(response.content)
        ):
            response["Content-Type"] = JSON
        return response
