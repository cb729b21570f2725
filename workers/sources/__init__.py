"""IdP sources: one module per kind of identity provider, each registered by its `kind`."""
