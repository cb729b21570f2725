"""Fixtures of the lifecycle tests in this folder."""

from tests.connect.lifecycle import keys  # noqa: F401
