# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading a client certificate file: a PEM file with key and certificate, or a PFX/PKCS#12 file.

The key must be RSA (Entra requires it) and match the certificate, and the certificate must be valid now;
each problem is told in one sentence naming ``client_certificate_path``, before any request is made.
"""

from __future__ import annotations

import datetime
import re
import traceback
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import config_error
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error

# cryptography is only needed for certificate authentication, and importing it costs about 0.1 s of CPU in
# every module run: it is imported on first use (see _load_cryptography).
x509 = hashes = serialization = rsa = pkcs12 = None  # pylint: disable=invalid-name
HAS_CRYPTOGRAPHY: bool | None = None
CRYPTOGRAPHY_IMPORT_ERROR: str | None = None

_PEM_BLOCK_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----\r?\n?", re.S)


def _load_cryptography() -> bool:
    """Import cryptography's parts into this module's namespace once; whether it is available."""
    global x509, hashes, serialization, rsa, pkcs12, HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR  # pylint: disable=global-statement
    if HAS_CRYPTOGRAPHY is None:
        try:
            from cryptography import x509 as _x509  # pylint: disable=import-outside-toplevel
            from cryptography.hazmat.primitives import hashes as _hashes, serialization as _serialization  # pylint: disable=import-outside-toplevel
            from cryptography.hazmat.primitives.asymmetric import rsa as _rsa  # pylint: disable=import-outside-toplevel
            from cryptography.hazmat.primitives.serialization import pkcs12 as _pkcs12  # pylint: disable=import-outside-toplevel
        except ImportError:
            HAS_CRYPTOGRAPHY = False
            CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
        else:
            x509, hashes, serialization, rsa, pkcs12 = _x509, _hashes, _serialization, _rsa, _pkcs12
            HAS_CRYPTOGRAPHY = True
    return bool(HAS_CRYPTOGRAPHY)


def require_cryptography() -> None:
    """Raise ``M365Error(code='missing_library')`` if cryptography cannot be imported."""
    if not _load_cryptography():
        raise M365Error("The Python library 'cryptography' is required for certificate authentication",
                        service="auth", code="missing_library", details=CRYPTOGRAPHY_IMPORT_ERROR)


@dataclass(frozen=True)
class ClientCertificate:
    """A private key and its certificate, as msal takes them, with the certificate's thumbprints and expiry."""

    key_pem: str = field(repr=False)
    cert_pem: str
    thumbprint: str
    thumbprint_sha256: str
    not_after: datetime.datetime


def load_client_certificate(path: str | None, password: str | None = None) -> ClientCertificate:
    """Read ``path`` (PEM or PFX), decrypting the key with ``password``; raise ``invalid_configuration`` on any problem."""
    if not _load_cryptography():
        raise config_error("The Python library 'cryptography' is required for certificate authentication")
    if not path:
        raise config_error("client_certificate_path is empty (option client_certificate_path or env AZURE_CLIENT_CERTIFICATE_PATH)")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise config_error(f"client_certificate_path {path!r} cannot be read: {exc.strerror or exc}") from None
    if b"-----BEGIN" in data:
        key, cert = _load_pem(path, data, password)
    elif path.lower().endswith((".pfx", ".p12")) or data[:1] == b"\x30":
        key, cert = _load_pfx(path, data, password)
    else:
        raise config_error(f"client_certificate_path {path!r} is neither PEM nor PFX/PKCS#12")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise config_error(f"client_certificate_path {path!r}: the private key is not an RSA key, which Entra requires")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        raise config_error(f"client_certificate_path {path!r}: the certificate does not match the private key")
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = _not_after(cert)
    if not_after <= now:
        raise config_error(
            f"client_certificate_path {path!r}: the certificate expired on {not_after.isoformat()}; "
            "Entra would reject it (AADSTS700027): upload and use a new one")
    if _not_before(cert) > now + datetime.timedelta(minutes=5):
        raise config_error(f"client_certificate_path {path!r}: the certificate is not valid before "
                           f"{_not_before(cert).isoformat()}")
    return ClientCertificate(
        key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode("ascii"),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # nosec B303 - Entra's x5t is SHA-1
        thumbprint_sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
        not_after=not_after,
    )


def _password_bytes(password: str | None) -> bytes | None:
    return password.encode("utf-8") if password else None


def _load_pem(path: str, data: bytes, password: str | None) -> tuple[Any, Any]:
    """The first private key of a PEM file, and the certificate that matches it (else the first one)."""
    keys = []
    certs = []
    for match in _PEM_BLOCK_RE.finditer(data):
        label = match.group(1)
        if label.endswith(b"PRIVATE KEY"):
            keys.append((label, match.group(0)))
        elif label in (b"CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CERTIFICATE"):
            certs.append(match.group(0))
    if not keys:
        raise config_error(f"client_certificate_path {path!r} holds no private key: put the key and the certificate in one PEM file")
    if not certs:
        raise config_error(f"client_certificate_path {path!r} holds no certificate: put the key and the certificate in one PEM file")
    label, block = keys[0]
    encrypted = label == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in block
    if encrypted and not password:
        raise config_error(f"client_certificate_path {path!r}: the private key is encrypted; "
                           "set client_certificate_password (env AZURE_CLIENT_CERTIFICATE_PASSWORD)")
    try:
        key = serialization.load_pem_private_key(block, password=_password_bytes(password) if encrypted else None)
    except (ValueError, TypeError) as exc:
        if encrypted:
            raise config_error(f"client_certificate_path {path!r}: wrong client_certificate_password "
                               "(the private key cannot be decrypted)") from None
        raise config_error(f"client_certificate_path {path!r}: the private key cannot be read: {exc}") from None
    key_numbers = key.public_key().public_numbers() if isinstance(key, rsa.RSAPrivateKey) else None
    chosen = None
    for block in certs:
        try:
            cert = x509.load_pem_x509_certificate(block)
        except ValueError as exc:
            raise config_error(f"client_certificate_path {path!r}: a certificate cannot be read: {exc}") from None
        if chosen is None:
            chosen = cert
        if key_numbers is not None and isinstance(cert.public_key(), rsa.RSAPublicKey) \
                and cert.public_key().public_numbers() == key_numbers:
            chosen = cert
            break
    return key, chosen


def _load_pfx(path: str, data: bytes, password: str | None) -> tuple[Any, Any]:
    """The private key and certificate of a PFX/PKCS#12 file."""
    try:
        key, cert, _extra = pkcs12.load_key_and_certificates(data, _password_bytes(password))
    except (ValueError, TypeError):
        if password:
            raise config_error(f"client_certificate_path {path!r}: wrong client_certificate_password "
                               "or not a PFX/PKCS#12 file") from None
        raise config_error(f"client_certificate_path {path!r}: the PFX file cannot be opened without a password; "
                           "set client_certificate_password (env AZURE_CLIENT_CERTIFICATE_PASSWORD)") from None
    if key is None:
        raise config_error(f"client_certificate_path {path!r}: the PFX file holds no private key")
    if cert is None:
        raise config_error(f"client_certificate_path {path!r}: the PFX file holds no certificate")
    return key, cert


def _not_after(cert: Any) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _not_before(cert: Any) -> datetime.datetime:
    value = getattr(cert, "not_valid_before_utc", None)
    if value is None:
        value = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    return value


__all__ = ["ClientCertificate", "load_client_certificate", "require_cryptography"]
