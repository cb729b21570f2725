"""Starts a real OpenLDAP slapd on free loopback ports with a throwaway config, for LDAP tests."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
MODULE_PATH = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"
SUFFIX = "dc=example,dc=com"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "admin-secret"
LIMITED_DN = f"cn=limited,{SUFFIX}"
LIMITED_PASSWORD = "limited-secret"
READER_DN = f"cn=reader,{SUFFIX}"
READER_PASSWORD = "reader-secret"
READER_PAGE = 5

_CONFIG = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
modulepath {modules}
moduleload back_mdb
moduleload memberof
moduleload ppolicy
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
TLSCertificateFile {dir}/cert.pem
TLSCertificateKeyFile {dir}/key.pem
sizelimit unlimited

database mdb
maxsize 268435456
suffix "{suffix}"
rootdn "{rootdn}"
rootpw {rootpw}
directory {dir}/db
index objectClass eq
index entryUUID eq
# the "limited" account sees at most {limit} entries per paged search: a real server-side
# failure in the middle of a fetch
limits dn.exact="{limited}" size.prtotal={limit} size.soft={limit} size.hard={limit}
# the "reader" account gets everything, but only through pages of at most {page} entries:
# a client that does not page really cannot read past the first {page}
limits dn.exact="{reader}" size.soft={page} size.hard={page} size.pr={page} size.prtotal=unlimited
overlay memberof
overlay ppolicy
"""


def require_slapd() -> None:
    """Skip when slapd is absent locally; under CI a missing slapd is a failure, not a skip."""
    if os.path.exists(SLAPD) and os.path.exists(f"{MODULE_PATH}/back_mdb.so"):
        return
    reason = "slapd is not installed (apt-get install -y slapd ldap-utils)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_self_signed(directory: Path) -> Path:
    """A throwaway certificate for 127.0.0.1/localhost; returns the certificate path."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    path = directory / "cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


class Slapd:
    """One slapd process: seeded offline with slapadd, then served on ldap:// and ldaps://."""

    def __init__(self, seed_ldif: str, *, limited_size: int = 10):
        self.dir = Path(tempfile.mkdtemp(prefix="slapd-"))
        self.port = free_port()
        self.tls_port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.tls_url = f"ldaps://127.0.0.1:{self.tls_port}"
        self.cert_path = write_self_signed(self.dir)
        (self.dir / "db").mkdir()
        self.config = self.dir / "slapd.conf"
        self.config.write_text(_CONFIG.format(
            schema=SCHEMA_DIR, modules=MODULE_PATH, dir=self.dir, suffix=SUFFIX,
            rootdn=ROOT_DN, rootpw=ROOT_PASSWORD, limited=LIMITED_DN, limit=limited_size,
            reader=READER_DN, page=READER_PAGE))
        self.seed_ldif = seed_ldif
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def cert_pem(self) -> str:
        return self.cert_path.read_text()

    @property
    def log_path(self) -> Path:
        return self.dir / "slapd.log"

    def binds(self) -> int:
        """Bind requests slapd has answered so far, read from its stats log."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return sum(1 for line in lines if " BIND dn=" in line and " method=" in line)

    def start(self) -> Slapd:
        seed = self.dir / "seed.ldif"
        seed.write_text(base_ldif() + self.seed_ldif)
        subprocess.run([SLAPADD, "-f", str(self.config), "-l", str(seed)], check=True,
                       capture_output=True)
        # -d keeps slapd in the foreground (no daemonising) so we own its pid; level 256
        # ("stats") logs one line per operation, which is how tests count binds
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [SLAPD, "-f", str(self.config), "-h", f"{self.url}/ {self.tls_url}/", "-d", "256"],
            stdout=subprocess.DEVNULL, stderr=self._log)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process and self._process.poll() is not None:
                raise RuntimeError(f"slapd exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not start listening")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Slapd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def base_ldif() -> str:
    """The suffix, the two organisational units and the size-limited reader account."""
    return (
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
        "dc: example\no: Example\n\n"
        f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n"
        f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n"
        f"dn: {LIMITED_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: limited\nuserPassword: {LIMITED_PASSWORD}\n\n"
        f"dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: reader\nuserPassword: {READER_PASSWORD}\n\n")


def person_ldif(uid: str, *, given: str = "Test", family: str = "User",
                mail: str | None = None, locked: bool = False) -> str:
    """One inetOrgPerson under ou=people; `locked` sets ppolicy's pwdAccountLockedTime."""
    lines = [f"dn: uid={uid},ou=people,{SUFFIX}", "objectClass: inetOrgPerson", f"uid: {uid}",
             f"cn: {given} {family}", f"sn: {family}", f"givenName: {given}",
             f"displayName: {given} {family}", f"mail: {mail or uid + '@example.com'}"]
    if locked:
        lines.append("pwdAccountLockedTime: 000001010000Z")
    return "\n".join(lines) + "\n\n"


def group_ldif(name: str, members: list[str]) -> str:
    """One groupOfNames under ou=groups; `members` are full DNs (people or other groups)."""
    lines = [f"dn: cn={name},ou=groups,{SUFFIX}", "objectClass: groupOfNames", f"cn: {name}"]
    # groupOfNames requires a member; an empty DN is the usual placeholder for "nobody"
    lines += [f"member: {m}" for m in members] or ["member: "]
    return "\n".join(lines) + "\n\n"


def user_dn(uid: str) -> str:
    return f"uid={uid},ou=people,{SUFFIX}"


def group_dn(name: str) -> str:
    return f"cn={name},ou=groups,{SUFFIX}"
