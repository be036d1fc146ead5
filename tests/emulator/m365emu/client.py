"""A small client for tests and benchmarks: tokens, Graph, Exchange and Key Vault calls against the emulator.

``verify`` is passed on every call because a ``REQUESTS_CA_BUNDLE`` in the environment would override a
session's own ``verify``.
"""

from __future__ import annotations

from typing import Any

import requests

from .tokens import EXCHANGE_RESOURCE, GRAPH_RESOURCE, VAULT_RESOURCE

ANCHOR = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"


class VerifyingHttpClient:
    """An ``http_client`` for msal that pins the CA bundle on every request."""

    def __init__(self, ca_path: str) -> None:
        self.ca_path = ca_path
        self.session = requests.Session()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        """GET with ``verify`` pinned."""
        kwargs["verify"] = self.ca_path
        return self.session.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        """POST with ``verify`` pinned."""
        kwargs["verify"] = self.ca_path
        return self.session.post(url, **kwargs)

    def close(self) -> None:
        """Close the session (msal calls this)."""
        self.session.close()


class EmuClient:
    """Raw HTTP calls to the emulator, returning ``requests.Response`` objects."""

    def __init__(self, base_url: str, ca_path: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.ca_path = ca_path
        self.session = requests.Session()

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Any request; ``url`` relative to the base URL unless absolute."""
        if not url.startswith("https://"):
            url = self.base_url + url
        kwargs["verify"] = self.ca_path
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, url, **kwargs)

    def token_response(self, tenant: str, client_id: str, secret: str | None = None, resource: str = GRAPH_RESOURCE,
                       assertion: str | None = None, scope: str | None = None) -> requests.Response:
        """POST the token endpoint with a secret or a client assertion."""
        form = {"grant_type": "client_credentials", "client_id": client_id, "scope": scope or f"{resource}/.default"}
        if secret is not None:
            form["client_secret"] = secret
        if assertion is not None:
            form["client_assertion"] = assertion
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        return self.request("POST", f"/{tenant}/oauth2/v2.0/token", data=form)

    def token(self, tenant: str, client_id: str, secret: str, resource: str = GRAPH_RESOURCE) -> str:
        """An access token (raises on failure)."""
        resp = self.token_response(tenant, client_id, secret, resource)
        resp.raise_for_status()
        return resp.json()["access_token"]

    def graph(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        """A Graph call; ``path`` after ``/v1.0``."""
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self.request(method, "/v1.0" + path, headers=headers, **kwargs)

    def vault(self, method: str, vault: str, path: str, token: str | None, *, api_version: str | None = "7.4",
              **kwargs: Any) -> requests.Response:
        """A Key Vault call: ``path`` under ``/vaults/{vault}`` (``secrets/x``), with ``api-version`` unless None, and a
        bearer token unless None."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = f"/vaults/{vault}/{path.lstrip('/')}"
        if api_version is not None:
            url += ("&" if "?" in url else "?") + f"api-version={api_version}"
        return self.request(method, url, headers=headers, **kwargs)

    def exchange(self, tenant: str, token: str, cmdlet: str, parameters: dict[str, Any] | None = None, *,
                 url: str | None = None, headers: dict[str, str] | None = None, page_size: int | None = None) -> requests.Response:
        """An InvokeCommand call with the headers the ExchangeOnlineManagement module sends."""
        hdrs = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json",
                "X-ResponseFormat": "json", "X-CmdletName": cmdlet, "X-ClientApplication": "ExoManagementModule",
                "X-AnchorMailbox": ANCHOR + tenant, "Prefer": f"odata.maxpagesize={page_size or 1000}"}
        hdrs.update(headers or {})
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
        return self.request("POST", url or f"/adminapi/beta/{tenant}/InvokeCommand", json=body, headers=hdrs)


__all__ = ["EmuClient", "VerifyingHttpClient", "GRAPH_RESOURCE", "EXCHANGE_RESOURCE", "VAULT_RESOURCE", "ANCHOR"]
