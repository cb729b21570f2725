"""The key ring: encrypt with the first key, decrypt with any, rotate, refuse bad keys."""

import pytest
from cryptography.fernet import Fernet

from app.crypto import KeyRing, SecretError, embedded_keys


def test_rotation_keeps_old_secrets_readable():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = KeyRing([old]).encrypt("client-secret")
    ring = KeyRing([new, old])
    assert ring.decrypt(token) == "client-secret"
    rotated = ring.rotate(token)
    assert KeyRing([new]).decrypt(rotated) == "client-secret"
    with pytest.raises(SecretError):
        KeyRing([old]).decrypt(rotated)


def test_ciphertext_hides_plaintext():
    ring = KeyRing([Fernet.generate_key().decode()])
    assert "hunter2" not in ring.encrypt("hunter2")


def test_bad_key_is_a_clear_error():
    with pytest.raises(ValueError, match="Fernet"):
        KeyRing(["not-a-key"])
    with pytest.raises(ValueError):
        KeyRing([])


def test_embedded_key_is_generated_once(tmp_path, caplog):
    first = embedded_keys(str(tmp_path))
    assert "USERSYNC_SECRET_KEYS" in caplog.text
    assert embedded_keys(str(tmp_path)) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
