# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every service client shares: its endpoint, the host its links must stay on, and a token renewed once on a 401."""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlsplit

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import resource_for
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error


class ServiceClient:
    """A client of one service (``service``: graph, exchange) at a configurable endpoint, over a shared Transport.

    A token is asked of the credential for every request (msal answers from its cache). A 401 that
    :meth:`token_rejected` reads as a refused token makes the client ask for a fresh token once and resend: a 401
    is a refusal before any processing, so resending a write is safe.
    """

    service = ""

    def __init__(self, transport: Any, credential: Any, endpoint: str, default_endpoint: str, default_resource: str) -> None:
        self.transport = transport
        self.credential = credential
        self.endpoint = (endpoint or default_endpoint).rstrip("/")
        self.resource = resource_for(self.endpoint, default_resource)
        parts = urlsplit(self.endpoint)
        self._origin = (parts.scheme.lower(), (parts.netloc or "").lower())

    def check_host(self, url: str) -> None:
        """Refuse a link (next page) to another scheme or host than the endpoint's."""
        parts = urlsplit(url)
        if (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
            raise M365Error(f"Refusing to follow a link to another host: {parts.scheme}://{parts.netloc}",
                            service=self.service, code="unexpected_host")

    def token_rejected(self, response: Any) -> bool:
        """Whether a 401 answer is about the token (expired, revoked); every 401 unless a client knows better."""
        return True

    def renewed_token(self, rejected: str) -> str | None:
        """A fresh token in place of ``rejected``, or None when the credential has no other."""
        fresh = self.credential.refresh(self.resource, rejected)
        return fresh if fresh != rejected else None

    def send_with_token(self, method: str, url: str, headers: Callable[[str], dict[str, str]], **kwargs: Any) -> Any:
        """Send through the transport with ``headers(token)``; on a 401 about the token, once more with a fresh one."""
        token = self.credential.get_token(self.resource)
        response = self.transport.request(method, url, service=self.service, headers=headers(token), **kwargs)
        if response.status_code == 401 and self.token_rejected(response):
            fresh = self.renewed_token(token)
            if fresh is not None:
                response.close()
                response = self.transport.request(method, url, service=self.service, headers=headers(fresh), **kwargs)
        return response
