# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The pre-acquired access token credential: a token used as is, checked for expiry and tenant only."""

from __future__ import annotations

import datetime
import time

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import (
    check_token_tenant, config_error, expected_tenant_id, is_tenant_guid, jwt_expiry, token_tenant_id)
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.credential import Credential


class AccessTokenCredential(Credential):
    """A pre-acquired access token, used as is for every resource.

    The token must have been issued for the resource the module talks to (Graph tokens do not work
    on Exchange and the other way round); a task that needs both services needs another method.
    With a ``tenant_id`` GUID, a token whose ``tid`` names another tenant is refused by ``validate()``.
    """

    method = "access_token"

    def __init__(self, access_token: str, tenant_id: str | None = None) -> None:
        self.access_token = (access_token or "").strip()
        self.tenant_id = (tenant_id or "").strip() or None

    def validate(self) -> None:
        if not self.access_token:
            raise config_error("access_token is empty")
        expires = jwt_expiry(self.access_token)
        if expires is not None and expires < time.time():
            when = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc).isoformat()
            raise config_error(f"access_token expired at {when}; get a new one")
        check_token_tenant(self.access_token, self.tenant_id, expected_tenant_id(self.tenant_id), what="the access_token",
                           check="access_token")

    def tenant_guid(self, resource: str) -> str | None:
        named = str(self.tenant_id).lower() if is_tenant_guid(self.tenant_id) else None
        return token_tenant_id(self.access_token) or named

    def get_token(self, resource: str) -> str:
        return self.access_token

    def refresh(self, resource: str, rejected: str) -> str:
        # Nothing to refresh with: the caller sees the same token and reports the service's 401.
        return self.access_token


__all__ = ["AccessTokenCredential"]
