# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The certificate credential: an application's client id and a certificate with its private key."""

from __future__ import annotations

import datetime
from typing import Any

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import DEFAULT_AUTHORITY_HOST
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.certificate_file import (
    load_client_certificate, require_cryptography)
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.credential import MsalCredential, credential_digest


class CertificateCredential(MsalCredential):
    """Client id + certificate: a PEM file with key and certificate, or a PFX/PKCS#12 file.

    The key may be encrypted (``password``). The SHA-1 thumbprint is computed from the certificate;
    msal then signs an RS256 assertion with ``x5t``. With ``sha256=True`` the public certificate is
    given instead, and msal signs PS256 with ``x5t#S256`` (and sends the chain in ``x5c``).
    """

    method = "certificate"

    def __init__(self, tenant_id: str, client_id: str, certificate_path: str, *, password: str | None = None,
                 authority_host: str | None = DEFAULT_AUTHORITY_HOST, transport: Any, sha256: bool = False) -> None:
        super().__init__(tenant_id, client_id, authority_host=authority_host, transport=transport)
        self.certificate_path = certificate_path
        self.password = password
        self.sha256 = sha256
        self._key_pem: str | None = None
        self._cert_pem: str | None = None
        self.thumbprint: str | None = None
        self.thumbprint_sha256: str | None = None
        self.not_after: datetime.datetime | None = None

    def _secrets(self) -> list[str]:
        return [self.password or "", self._key_pem or ""]

    def validate(self) -> None:
        self._validate_common()
        require_cryptography()
        self._load()
        self._validated = True

    def _load(self) -> None:
        loaded = load_client_certificate(self.certificate_path, self.password)
        self.not_after = loaded.not_after
        self._key_pem = loaded.key_pem
        self._cert_pem = loaded.cert_pem
        self.thumbprint = loaded.thumbprint
        self.thumbprint_sha256 = loaded.thumbprint_sha256

    def _client_credential(self) -> Any:
        if self._key_pem is None:
            self._load()
        if self.sha256:
            return {"private_key": self._key_pem, "public_certificate": self._cert_pem}
        return {"private_key": self._key_pem, "thumbprint": self.thumbprint}

    def _fingerprint(self) -> str:
        if self._key_pem is None:
            self._load()
        return credential_digest(self._key_pem, self.thumbprint, self.sha256)


__all__ = ["CertificateCredential"]
