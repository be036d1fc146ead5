# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The federated (workload identity) credential: a token from a file, a value, or a CI provider's request URL."""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import DEFAULT_AUTHORITY_HOST, config_error, jwt_expiry
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.credential import MsalCredential, credential_digest
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error, redact

FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
# A fetched CI token is used again until it is this close to its expiry (GitHub's last 5 to 10 minutes).
FEDERATED_REFRESH_MARGIN = 60.0


class FederatedTokenCredential(MsalCredential):
    """Client id + a federated (workload identity) token used as the client assertion.

    The token comes from, in this order: ``token_file`` (re-read for every token request, because
    Kubernetes and CI runners rotate it), ``token`` (a value), or ``request_url`` + ``request_token``
    (GitHub Actions' ``ACTIONS_ID_TOKEN_REQUEST_URL``/``ACTIONS_ID_TOKEN_REQUEST_TOKEN``: the token is
    requested for ``audience`` and fetched again when it is within ``refresh_margin`` seconds of its expiry,
    so a run longer than the token's life keeps working). msal calls :meth:`assertion` for every token
    request it sends, and caches access tokens in between.
    """

    method = "federated"

    def __init__(self, tenant_id: str, client_id: str, *, token_file: str | None = None, token: str | None = None,
                 request_url: str | None = None, request_token: str | None = None, audience: str | None = None,
                 refresh_margin: float = FEDERATED_REFRESH_MARGIN,
                 authority_host: str | None = DEFAULT_AUTHORITY_HOST, transport: Any) -> None:
        super().__init__(tenant_id, client_id, authority_host=authority_host, transport=transport)
        self.token_file = token_file
        self.token = token
        self.request_url = (request_url or "").strip() or None
        self.request_token = request_token
        self.audience = (audience or "").strip() or FEDERATED_AUDIENCE
        self.refresh_margin = refresh_margin
        self._last: str | None = None
        self._fetched: str | None = None
        self._fetched_expiry: float | None = None
        self._fetch_lock = threading.Lock()

    @property
    def source(self) -> str:
        """Where the assertion comes from: ``file``, ``value`` or ``request_url``."""
        if self.token_file:
            return "file"
        if self.token:
            return "value"
        return "request_url"

    def _secrets(self) -> list[str]:
        return [self.token or "", self._last or "", self.request_token or "", self._fetched or ""]

    def validate(self) -> None:
        self._validate_common()
        if self.token_file:
            self._read_file()
        elif self.token:
            pass
        elif self.request_url:
            parts = urlsplit(self.request_url)
            if parts.scheme.lower() != "https" or not parts.hostname:
                raise config_error("federated_token_request_url (env ACTIONS_ID_TOKEN_REQUEST_URL) must be an https URL")
            if not self.request_token:
                raise config_error("federated_token_request_url is set but federated_token_request_token "
                                   "(env ACTIONS_ID_TOKEN_REQUEST_TOKEN) is not: in GitHub Actions the job needs "
                                   "'permissions: id-token: write'")
        else:
            raise config_error("federated_token_file (env AZURE_FEDERATED_TOKEN_FILE), federated_token, or "
                               "federated_token_request_url with federated_token_request_token is required")
        self._validated = True

    def _read_file(self) -> str:
        try:
            with open(self.token_file, "r", encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise config_error(f"federated_token_file {self.token_file!r} cannot be read: {exc.strerror or exc}") from None
        if not token:
            raise config_error(f"federated_token_file {self.token_file!r} is empty")
        self._last = token
        return token

    def _request_target(self) -> str:
        # As GitHub's toolkit does: the request URL already has a query (api-version), the audience is appended.
        separator = "&" if "?" in (self.request_url or "") else "?"
        return f"{self.request_url}{separator}audience={quote(self.audience, safe='')}"

    def _fetch(self) -> str:
        response = self.transport.request(
            "GET", self._request_target(), service="auth",
            headers={"Authorization": f"Bearer {self.request_token}", "Accept": "application/json"},
        )
        where = (self.request_url or "").split("?", 1)[0]
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("value"), str) \
                or not body["value"].strip():
            detail = body.get("message") if isinstance(body, dict) else None
            text = (detail or response.text or "")[:300]
            raise M365Error(
                redact(f"Could not get a federated token from {where} (HTTP {response.status_code}): {' '.join(text.split())}. "
                       "In GitHub Actions the job needs 'permissions: id-token: write'.", self._secrets()),
                service="auth", status=response.status_code, code="federated_token_request_failed",
                transient=response.status_code in (429, 500, 502, 503, 504),
            )
        token = body["value"].strip()
        self._fetched = token
        self._fetched_expiry = jwt_expiry(token)
        return token

    def assertion(self) -> str:
        """The current assertion: the file's content now, the given token, or a fresh-enough fetched one."""
        if self.token_file:
            return self._read_file()
        if self.token:
            return self.token
        with self._fetch_lock:
            expiry = self._fetched_expiry
            if self._fetched and (expiry is None or expiry - time.time() > self.refresh_margin):
                return self._fetched
            return self._fetch()

    def _client_credential(self) -> Any:
        return {"client_assertion": self.assertion}

    def _fingerprint(self) -> str:
        if self.token_file:
            return credential_digest("file", os.path.abspath(self.token_file))
        if self.token:
            return credential_digest("token", self.token)
        return credential_digest("request_url", self.request_url, self.request_token, self.audience)


__all__ = ["FEDERATED_AUDIENCE", "FEDERATED_REFRESH_MARGIN", "FederatedTokenCredential"]
