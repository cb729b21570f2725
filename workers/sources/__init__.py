"""IdP sources: one module per kind of identity provider, listed in `registry.KINDS` under its name."""
