"""Throwaway PKI: the emulator's CA and TLS certificate, and app certificates for tests."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class ServerPki:
    """Paths of the files written by :func:`make_server_pki`."""

    ca_path: Path
    cert_path: Path
    key_path: Path


def make_server_pki(state_dir: Path) -> ServerPki:
    """Create a CA and a server certificate for 127.0.0.1/localhost under ``state_dir``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = _new_key()
    ca_name = _name("m365emu throwaway CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = ServerPki(state_dir / "ca.pem", state_dir / "server.pem", state_dir / "server-key.pem")
    paths.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    # The key file is private: create it 0600 before writing.
    fd = os.open(paths.key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_key_pem(key))
    return paths


def make_app_certificate(common_name: str = "remediation-app", *, days: int = 365,
                         not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> tuple[str, str]:
    """A self-signed app certificate, as registered on an Entra app: returns ``(key_pem, cert_pem)``.

    ``not_before``/``not_after`` override the validity window (use a past ``not_after`` for an expired one).
    """
    now = dt.datetime.now(dt.timezone.utc)
    start = not_before or (now - dt.timedelta(minutes=5))
    end = not_after or (start + dt.timedelta(days=days))
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    return _key_pem(key).decode("ascii"), cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make_pfx(key_pem: str, cert_pem: str, password: str | None = None) -> bytes:
    """A PKCS#12 bundle of an app key and certificate (password-protected when ``password`` is given)."""
    key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
    cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    encryption = (serialization.BestAvailableEncryption(password.encode("utf-8")) if password
                  else serialization.NoEncryption())
    return pkcs12.serialize_key_and_certificates(b"remediation-app", key, cert, None, encryption)  # type: ignore[arg-type]


def thumbprints(cert_pem: str) -> tuple[str, str]:
    """Hex SHA-1 and SHA-256 thumbprints of a PEM certificate (upper-case, as the portal shows them)."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    return cert.fingerprint(hashes.SHA1()).hex().upper(), cert.fingerprint(hashes.SHA256()).hex().upper()  # nosec B303


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE headers use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
