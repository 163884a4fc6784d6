# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
