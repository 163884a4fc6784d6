# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The authorization server engine: the template owns every file of this package.

Do not edit it: `cruft update` brings the template's fixes here, and an edit would be in their
way. Change what your server decides in your own package instead (its adapter.py, named by
settings.OAUTH_SERVER_ADAPTER), its settings (config/settings/) and its templates (a copy of one of
authserver/templates/ in templates/ wins). docs/layout.md says which file is whose.
"""
