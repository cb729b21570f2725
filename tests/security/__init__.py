"""Cross-cutting regression tests of security findings."""
