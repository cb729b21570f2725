"""Fixtures shared by the source tests: tiny backoff, a sleep that records, seeded directories, RSA keys."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.idps.directory import Directory
from workers.backoff import BackoffPolicy

# Sleeps are recorded, never slept, so Retry-After values are kept as the server sent them.
TINY_BACKOFF = BackoffPolicy(initial=0.001, cap=0.01, max_retries=3)


class RecordingSleep:
    """Stands in for time.sleep: remembers each requested delay instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def tiny_backoff() -> BackoffPolicy:
    return TINY_BACKOFF


@pytest.fixture
def small_directory() -> Directory:
    """Enough to need several pages at small page sizes, with nesting."""
    return Directory.generate(users=57, groups=12, memberships=120, seed=7, nested_fraction=0.4)


def rsa_pem() -> str:
    """A fresh RSA private key in PKCS#8 PEM (generated per test session, never committed)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="session")
def rsa_key() -> str:
    return rsa_pem()


def expected_members(directory: Directory) -> dict[str, set[str]]:
    """Direct memberships as a Snapshot should report them."""
    return {t.id: {m for m in t.member_ids if m in directory.people}
            for t in directory.teams.values()}


def expected_parents(directory: Directory) -> dict[str, tuple[str, ...]]:
    return {t.id: (t.parent_id,) if t.parent_id else () for t in directory.teams.values()}


def assert_matches(snapshot, directory: Directory, *, nested: bool = True,
                   active_only: bool = False) -> None:
    """The snapshot is the directory: every user (e-mail, display name), every group (name, and
    nesting where the IdP has it) and every direct membership. `active_only` for IdPs whose
    user list leaves deactivated people out (Okta)."""
    assert snapshot.complete, snapshot.errors
    people = {p.id: p for p in directory.people.values() if p.active or not active_only}
    assert set(snapshot.users) == set(people)
    for pid, person in people.items():
        user = snapshot.users[pid]
        assert (user.email, user.display_name) == (person.email, person.display_name)
    assert {g: s.name for g, s in snapshot.groups.items()} == {
        t.id: t.name for t in directory.teams.values()}
    parents = expected_parents(directory) if nested else {t.id: () for t in directory.teams.values()}
    assert {g: s.parent_ids for g, s in snapshot.groups.items()} == parents
    assert snapshot.members == expected_members(directory)


def assert_one_page_missing(snapshot, directory: Directory, page_size: int) -> None:
    """A page that failed after retries: the snapshot says so once, every other page was read."""
    assert not snapshot.complete and len(snapshot.errors) == 1
    assert "kept answering 503" in snapshot.errors[0]
    missing = (len(directory.people) - len(snapshot.users)
               + len(directory.teams) - len(snapshot.groups))
    assert 0 < missing <= page_size


def assert_form_metadata(schema) -> None:
    """Every settings field can be rendered by the admin page: label, help, secret flag."""
    for name, field in schema().fields.items():
        meta = field.metadata
        assert meta.get("label") and meta.get("help"), name
        assert isinstance(meta.get("secret"), bool), name
