"""The SSRF guard: every non-public address is refused, and the address that was checked is
the one dialled (HTTP sources, the Atlassian transport, LDAP), so DNS rebinding cannot swap it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from workers.atlassian.http import RefusedAddress, Transport
from workers.backoff import BackoffPolicy
from workers.netguard import UnsafeURLError, check_url, is_blocked, resolve_checked
from workers.sources.base import SourceConfigError, SourceError
from workers.sources.http import HttpClient
from workers.sources.ldap import LdapSource

PUBLIC = "93.184.216.34"  # a global address; nothing here can reach it, which is the point
NO_RETRY = BackoffPolicy(initial=0.001, cap=0.01, max_retries=0)
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.mark.parametrize("address", [
    "100.100.100.200", "100.64.0.1",                      # shared space, a cloud metadata address
    "169.254.169.254", "10.1.2.3", "127.0.0.1", "0.0.0.0", "192.168.1.1", "198.18.0.1",
    "224.0.0.1", "255.255.255.255",
    "::1", "fe80::1", "fd00::1", "ff0e::1", "2001:db8::1",
    "::ffff:10.0.0.1", "::ffff:169.254.169.254",           # IPv4-mapped
    "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1",                # NAT64 carrying a private IPv4
    "64:ff9b:1::a00:1",                                   # local-use NAT64
    "2002:a00:1::1", "2002:a9fe:a9fe::", "2002:808:808::1",  # 6to4 (any)
    "::a00:1",                                            # IPv4-compatible
])
def test_non_public_addresses_are_blocked(address):
    assert is_blocked(ipaddress.ip_address(address))
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeURLError, match="not a public address"):
        check_url(f"https://{host}/x")


@pytest.mark.parametrize("address", ["8.8.8.8", PUBLIC, "2606:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert not is_blocked(ipaddress.ip_address(address))


class Rebinding:
    """Stands in for socket.getaddrinfo: `name` gets the next of `answers` on each lookup
    (the last one repeats); every other host is resolved for real."""

    def __init__(self, name: str, *answers: str):
        self.name, self.answers, self.lookups = name, answers, 0

    def __call__(self, host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != self.name:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        family = socket.AF_INET6 if ":" in answer else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (answer, port or 0))]


@pytest.fixture
def dns(monkeypatch):
    def install(name: str, *answers: str) -> Rebinding:
        stub = Rebinding(name, *answers)
        monkeypatch.setattr(socket, "getaddrinfo", stub)
        return stub
    return install


class Listener:
    """A bare TCP port on 127.0.0.1 that counts the connections it is offered."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port, self.accepted, self._stop = self.sock.getsockname()[1], 0, False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener():
    lis = Listener()
    yield lis
    lis.close()


def test_a_name_resolving_to_metadata_is_refused(dns):
    dns("metadata.example", "100.100.100.200")
    with pytest.raises(UnsafeURLError, match="100.100.100.200"):
        check_url("https://metadata.example/latest")
    with pytest.raises(UnsafeURLError):
        resolve_checked("metadata.example", 443)


def test_http_source_dials_the_checked_address_not_a_rebound_one(dns, listener):
    stub = dns("rebind.example", PUBLIC, "127.0.0.1")  # public for the check, loopback after
    client = HttpClient(f"https://rebind.example:{listener.port}", allow_private=False,
                        backoff=NO_RETRY, timeout=(1.0, 1.0), label="IdP")
    with pytest.raises(SourceError):
        client.get_json("/users")  # the public address is unreachable from here
    assert stub.lookups == 1
    assert listener.accepted == 0  # the loopback answer was never dialled


def test_http_source_refuses_a_name_that_resolves_inside(dns, listener):
    dns("inside.example", "10.0.0.7")
    client = HttpClient("https://inside.example", backoff=NO_RETRY, label="IdP")
    with pytest.raises(SourceConfigError, match="Refusing to call IdP: .*10.0.0.7"):
        client.get_json("/users")


def test_atlassian_transport_resolves_and_checks(dns, listener):
    dns("evil.atlassian.example", "10.0.0.5")
    transport = Transport(policy=NO_RETRY, timeout=(1.0, 1.0))
    with pytest.raises(RefusedAddress, match="10.0.0.5"):
        transport.request("get_groups", "GET", "https://evil.atlassian.example/rest/api/3/group",
                          auth=None)
    stub = dns("rebind.atlassian.example", PUBLIC, "127.0.0.1")
    with pytest.raises(Exception):  # noqa: B017 - the public address cannot be reached here
        transport.request("get_groups", "GET",
                          f"https://rebind.atlassian.example:{listener.port}/rest/api/3/group",
                          auth=None)
    assert stub.lookups == 1 and listener.accepted == 0


def test_ldap_dials_the_checked_address(dns, listener):
    stub = dns("ldap.rebind.example", PUBLIC, "127.0.0.1")
    source = LdapSource({"url": f"ldaps://ldap.rebind.example:{listener.port}", "bind_dn": "cn=s",
                         "bind_password": "p", "base_dn": "dc=example,dc=com", "timeout": 1.0})
    assert not source.test_connection().ok
    assert stub.lookups == 1 and listener.accepted == 0
    dns("ldap.inside.example", "169.254.169.254")
    check = LdapSource({"url": "ldaps://ldap.inside.example", "bind_dn": "cn=s",
                        "bind_password": "p", "base_dn": "dc=example,dc=com"}).test_connection()
    assert not check.ok and "169.254.169.254" in check.message


# -- https through a pinned address: SNI, Host and the certificate are still the name's -------

def certificate_for(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (it is its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def https_idp(tmp_path):
    cert, key = certificate_for("idp.pinned.test", tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen: list[str] = []
    app = Flask("idp")

    @app.get("/users")
    def users():  # type: ignore[no-untyped-def]
        seen.append(request.host)
        return jsonify([{"id": "u1"}])

    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_port, cert, seen
    server.shutdown()
    thread.join(timeout=5)


def test_https_through_the_pinned_address_verifies_the_name(dns, https_idp):
    port, ca, seen = https_idp
    stub = dns("idp.pinned.test", "127.0.0.1", "127.0.0.2")  # a second lookup would miss
    client = HttpClient(f"https://idp.pinned.test:{port}", allow_private=True, backoff=NO_RETRY)
    client.session.verify = str(ca)
    assert client.get_json("/users") == [{"id": "u1"}]
    assert seen == [f"idp.pinned.test:{port}"] and stub.lookups == 1
    # a certificate for another name is still refused, although the address is the same
    dns("other.pinned.test", "127.0.0.1")
    other = HttpClient(f"https://other.pinned.test:{port}", allow_private=True, backoff=NO_RETRY)
    other.session.verify = str(ca)
    with pytest.raises(SourceError, match="TLS"):
        other.get_json("/users")
