"""Lifecycle tests' set-up: Atlassian's install-key server played locally (the `keys` fixture,
offered by the conftests of tests/connect and tests/security) and an app that fetches there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connect.tokens import INSTALL_KID, INSTALL_PUBLIC, key_server


@pytest.fixture()
def keys() -> Iterator[object]:
    with key_server({INSTALL_KID: INSTALL_PUBLIC}) as server:
        yield server


def app_for(test_config: dict, keys, **overrides):  # type: ignore[no-untyped-def]
    """The app, fetching install keys from `keys` (a fresh URL per test, so the process-wide
    kid cache cannot hide a key server failure)."""
    from app import create_app

    return create_app({**test_config, "INSTALL_KEYS_URL": keys.url + "/", **overrides})
