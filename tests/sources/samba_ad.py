"""A real Samba Active Directory DC on a loopback address, provisioned once and seeded offline."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import ldap3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SAMBA = shutil.which("samba") or "/usr/sbin/samba"
SAMBA_TOOL = shutil.which("samba-tool") or "/usr/bin/samba-tool"
LDBADD = shutil.which("ldbadd") or "/usr/bin/ldbadd"
LDBSEARCH = shutil.which("ldbsearch") or "/usr/bin/ldbsearch"
REALM = "USERSYNC.TEST"
DOMAIN_DN = "DC=usersync,DC=test"
HOST = "dc1"
FQDN = f"{HOST}.usersync.test"
ADMIN_PASSWORD = "Adm1n-Secret!"
SYNC_DN = f"CN=sync,OU=Service,{DOMAIN_DN}"
SYNC_PASSWORD = "Sync-Passw0rd!"
DISABLED_SYNC_DN = f"CN=sync-disabled,OU=Service,{DOMAIN_DN}"
PEOPLE = f"OU=People,OU=Sync,{DOMAIN_DN}"
GROUPS = f"OU=Groups,OU=Sync,{DOMAIN_DN}"
# samba's LDAP service listens on these; the DC gets a loopback address where all are free
PORTS = (389, 636, 3268, 3269)

# userAccountControl: NORMAL_ACCOUNT (512) | PASSWD_NOTREQD (32): enabled, no password needed;
# ACCOUNTDISABLE (2) disables; DONT_EXPIRE_PASSWORD (65536) is one more bit the filter must see past
ENABLED, DISABLED, DISABLED_NO_EXPIRY = 544, 546, 66082


def require_samba() -> None:
    """Skip when Samba's AD DC is absent locally; under CI a missing samba is a failure."""
    if all(os.path.exists(p) for p in (SAMBA, SAMBA_TOOL, LDBADD)):
        return
    reason = ("Samba AD DC is not installed (apt-get install -y samba samba-ad-provision "
              "samba-ad-dc ldb-tools winbind krb5-user)")
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def user_dn(name: str) -> str:
    return f"CN={name},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"CN={name},{GROUPS}"


def user_ldif(name: str, uac: int = ENABLED) -> str:
    return (f"dn: {user_dn(name)}\nobjectClass: user\nsAMAccountName: {name}\n"
            f"userPrincipalName: {name}@usersync.test\nmail: {name}@usersync.test\n"
            f"displayName: {name.title()}\nuserAccountControl: {uac}\n\n")


def group_ldif(name: str, members: list[str]) -> str:
    lines = [f"dn: {group_dn(name)}", "objectClass: group", f"sAMAccountName: {name}"]
    return "\n".join(lines + [f"member: {m}" for m in members]) + "\n\n"


def _password(value: str) -> str:
    """unicodePwd: the quoted password in UTF-16LE, base64 in LDIF."""
    return base64.b64encode(f'"{value}"'.encode("utf-16-le")).decode()


def base_ldif() -> str:
    """The OUs and the read-only service account the connector binds as."""
    ous = [f"OU=Sync,{DOMAIN_DN}", PEOPLE, GROUPS, f"OU=Service,{DOMAIN_DN}"]
    text = "".join(f"dn: {ou}\nobjectClass: organizationalUnit\n\n" for ou in ous)
    # NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD, a real password: a plain member of Domain Users
    text += (f"dn: {SYNC_DN}\nobjectClass: user\nsAMAccountName: svc-sync\n"
             f"userAccountControl: 66048\nunicodePwd:: {_password(SYNC_PASSWORD)}\n\n")
    # the same, disabled (66048 | ACCOUNTDISABLE): AD refuses its bind with "data 533"
    return text + (f"dn: {DISABLED_SYNC_DN}\nobjectClass: user\n"
                   f"sAMAccountName: svc-sync-off\nuserAccountControl: 66050\n"
                   f"unicodePwd:: {_password(SYNC_PASSWORD)}\n\n")


def free_loopback_address() -> str:
    """A 127.0.0.x (x ≥ 2) on which every port the DC needs is free."""
    for last in range(2, 255):
        address = f"127.0.0.{last}"
        try:
            for port in PORTS:
                with socket.socket() as s:
                    # as samba binds: a port left in TIME_WAIT by a stopped DC is free
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((address, port))
        except OSError:
            continue
        return address
    raise RuntimeError("no loopback address has ports 389/636/3268/3269 free")


def _smb_conf(directory: Path, address: str, strong_auth: bool) -> str:
    # Only the LDAP service: no SMB, DNS, Kerberos, replication or NetBIOS on this machine.
    return f"""[global]
	netbios name = {HOST.upper()}
	realm = {REALM}
	workgroup = USERSYNC
	server role = active directory domain controller
	server services = ldap
	interfaces = {address}/8
	bind interfaces only = yes
	private dir = {directory}/private
	lock directory = {directory}
	state directory = {directory}/state
	cache directory = {directory}/cache
	binddns dir = {directory}/bind-dns
	pid directory = {directory}/run
	log file = {directory}/log.%m
	logging = file
	# no: simple binds over ldap:// too, as many DCs still allow; yes: LDAP signing enforced
	ldap server require strong auth = {"yes" if strong_auth else "no"}
	tls enabled = yes
	tls keyfile = {directory}/tls/key.pem
	tls certfile = {directory}/tls/cert.pem
	tls cafile = {directory}/tls/ca.pem
"""


def _template_key(seed: str) -> str:
    version = subprocess.run([SAMBA, "-V"], capture_output=True, text=True).stdout.strip()
    source = Path(__file__).read_text()
    return hashlib.sha256("\0".join((version, source, seed)).encode()).hexdigest()[:16]


def provisioned_template(seed: str) -> Path:
    """A provisioned domain with `seed` added, built once and kept under the temp folder.

    Provisioning and seeding take most of a minute; the template is keyed by the Samba
    version, this file and the seed, so a changed seed builds a new one.
    """
    cache = Path(tempfile.gettempdir()) / f"usersync-samba-template-{_template_key(seed)}"
    if (cache / "ready").exists():
        return cache
    build = Path(tempfile.mkdtemp(prefix="usersync-samba-build-"))
    try:
        subprocess.run([
            SAMBA_TOOL, "domain", "provision", f"--realm={REALM}", "--domain=USERSYNC",
            f"--adminpass={ADMIN_PASSWORD}", "--server-role=dc", "--dns-backend=NONE",
            f"--targetdir={build}", f"--host-name={HOST}", "--host-ip=127.0.0.2",
            "--option=interfaces=127.0.0.2/8", "--option=bind interfaces only=yes",
            f"--option=log file = {build}/log.%m"],
            check=True, capture_output=True, timeout=300)
        seed_file = build / "seed.ldif"
        seed_file.write_text(base_ldif() + seed)
        # offline, through Samba's own module stack: objectGUID, objectSid, linked members
        subprocess.run([LDBADD, "-H", str(build / "private" / "sam.ldb"), str(seed_file)],
                       check=True, capture_output=True, timeout=300)
        (build / "ready").write_text("")
        try:
            build.rename(cache)
        except OSError:  # another session built it meanwhile: use theirs
            shutil.rmtree(build, ignore_errors=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(build, ignore_errors=True)
        raise RuntimeError(f"provisioning Samba failed: {exc.stderr.decode()[-2000:]}") from None
    return cache


def write_certificates(tls: Path, address: str) -> Path:
    """An issuing CA and the DC's LDAPS certificate for its name and address; returns the CA."""
    tls.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "usersync-test Issuing CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, FQDN)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(FQDN), x509.IPAddress(ipaddress.ip_address(address))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_path = tls / "key.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)  # samba refuses a key file others can read
    (tls / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca_path = tls / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ca_path


class SambaDC:
    """One samba process serving a copy of the template on its own loopback address."""

    def __init__(self, seed: str, *, strong_auth: bool = False):
        self.seed, self.strong_auth = seed, strong_auth
        self.dir = Path(tempfile.mkdtemp(prefix="samba-dc-"))
        self.address = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ldap://{self.address}"

    @property
    def tls_url(self) -> str:
        return f"ldaps://{self.address}:636"

    @property
    def ca_pem(self) -> str:
        return (self.dir / "tls" / "ca.pem").read_text()

    def start(self) -> SambaDC:
        template = provisioned_template(self.seed)
        shutil.rmtree(self.dir)
        shutil.copytree(template, self.dir, symlinks=True)
        self.address = free_loopback_address()
        write_certificates(self.dir / "tls", self.address)
        (self.dir / "run").mkdir(exist_ok=True)
        conf = self.dir / "etc" / "smb.conf"
        conf.write_text(_smb_conf(self.dir, self.address, self.strong_auth))
        log = (self.dir / "samba.out").open("wb")
        # -i: foreground, so this process owns it; -M single: one process to stop
        self._process = subprocess.Popen([SAMBA, "-s", str(conf), "-i", "-M", "single"],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process and self._process.poll() is not None:
                out = (self.dir / "samba.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"samba exited: {out}")
            try:
                server = ldap3.Server(self.address, port=636, use_ssl=True, connect_timeout=1,
                                      tls=ldap3.Tls(validate=ssl.CERT_NONE))
                conn = ldap3.Connection(server, SYNC_DN, SYNC_PASSWORD, receive_timeout=2)
                if conn.bind():
                    conn.unbind()
                    return
            except ldap3.core.exceptions.LDAPException:
                pass
            time.sleep(0.2)
        raise RuntimeError("samba did not answer a bind in time")

    def admin(self) -> ldap3.Connection:
        """A bound Administrator connection, for changes a test makes to the directory."""
        server = ldap3.Server(self.address, port=636, use_ssl=True,
                              tls=ldap3.Tls(validate=ssl.CERT_NONE))
        return ldap3.Connection(server, f"CN=Administrator,CN=Users,{DOMAIN_DN}", ADMIN_PASSWORD,
                                auto_bind=True)

    def guid_of(self, dn: str) -> str:
        """objectGUID as Samba's own tools print it (not decoded by the code under test)."""
        out = subprocess.run([LDBSEARCH, "-H", str(self.dir / "private" / "sam.ldb"),
                              "-b", dn, "-s", "base", "objectGUID"],
                             capture_output=True, text=True, timeout=30).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("objectGUID:"))

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SambaDC:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
