# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
Rows locked for the request's transaction (ATOMIC_REQUESTS; view_policy.py).
"""


def lock_rows(queryset):
    """Lock the matching rows until the transaction ends: of two requests that redeem the same
    code or token at once, the second waits here for the first to commit, then finds it used."""
    return list(queryset.select_for_update())
