# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The client secret credential: an application's client id and one of its secrets."""

from __future__ import annotations

from typing import Any

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import DEFAULT_AUTHORITY_HOST, config_error
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.credential import MsalCredential, credential_digest


class ClientSecretCredential(MsalCredential):
    """Client id + client secret."""

    method = "client_secret"

    def __init__(self, tenant_id: str, client_id: str, client_secret: str, *,
                 authority_host: str | None = DEFAULT_AUTHORITY_HOST, transport: Any) -> None:
        super().__init__(tenant_id, client_id, authority_host=authority_host, transport=transport)
        self.client_secret = client_secret

    def validate(self) -> None:
        self._validate_common()
        if not self.client_secret:
            raise config_error("client_secret is empty (option client_secret or env AZURE_CLIENT_SECRET)")
        self._validated = True

    def _client_credential(self) -> Any:
        return self.client_secret

    def _fingerprint(self) -> str:
        return credential_digest(self.client_secret)

    def _secrets(self) -> list[str]:
        return [self.client_secret]


__all__ = ["ClientSecretCredential"]
