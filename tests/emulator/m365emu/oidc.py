"""A fake OIDC issuer of CI identity tokens, modelled on GitHub Actions' token service.

It lives on the emulator at ``{base_url}/oidc``:

- ``GET /oidc/.well-known/openid-configuration`` and ``GET /oidc/.well-known/jwks``: discovery and signing keys;
- ``GET /oidc/github/idtoken?api-version=2.0&audience=...`` with ``Authorization: Bearer <request token>``:
  ``{"count": 1, "value": "<JWT>"}``, what a job gets from ``ACTIONS_ID_TOKEN_REQUEST_URL`` with
  ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` (the GitHub toolkit appends ``&audience=`` to that URL).

Each request token stands for one job: it fixes the subject and the lifetime of the tokens minted for it.
The Entra token endpoint validates assertions from this issuer with its JWKS (looked up in process, as
Entra would after fetching the issuer's discovery document).
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .pki import b64url
from .wire import Request, Response, json_response

PREFIX = "/oidc"
ISSUER_PLACEHOLDER = "{base_url}" + PREFIX
REQUEST_PATH = PREFIX + "/github/idtoken"
DEFAULT_AUDIENCE_OWNER = "https://github.com/m365ops"
DEFAULT_LIFETIME = 300


class OidcIssuer:
    """Signs CI identity tokens for ``{base_url}/oidc``; thread-safe."""

    def __init__(self, base_url: str, request_tokens: dict[str, dict[str, Any]] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.issuer = self.base_url + PREFIX
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = b64url(uuid.uuid4().bytes)
        self.lock = threading.Lock()
        self.request_tokens: dict[str, dict[str, Any]] = {}
        self.minted = 0
        for token, job in (request_tokens or {}).items():
            self.request_tokens[token] = dict(job)

    # -- values ----------------------------------------------------------------------------------------------

    def expand(self, issuer: str | None) -> str:
        """A seed's issuer with ``{base_url}`` replaced by this emulator's URL."""
        return (issuer or "").replace("{base_url}", self.base_url)

    def request_url(self) -> str:
        """The ``ACTIONS_ID_TOKEN_REQUEST_URL`` of this issuer."""
        return f"{self.base_url}{REQUEST_PATH}?api-version=2.0"

    def jwks(self) -> dict[str, Any]:
        """The public signing keys."""
        numbers = self.key.public_key().public_numbers()
        key = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
               "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
               "e": b64url(numbers.e.to_bytes(3, "big"))}
        return {"keys": [key]}

    def jwks_resolver(self, issuer: str, credential: dict[str, Any]) -> dict[str, Any] | None:
        """A ``TokenService.jwks_resolvers`` entry: this issuer's JWKS for assertions it issued."""
        del credential  # every credential naming this issuer shares its keys
        return self.jwks() if issuer == self.issuer else None

    def mint(self, subject: str, audience: str, lifetime: float = DEFAULT_LIFETIME, *, issued_at: float | None = None,
             extra: dict[str, Any] | None = None) -> str:
        """A signed token; a negative ``lifetime`` gives one that expired that many seconds after ``issued_at``."""
        now = int(time.time() if issued_at is None else issued_at)
        if lifetime < 0:
            now = int(time.time()) + int(lifetime) - 60
            lifetime = 60
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()), "sub": subject, "aud": audience, "iss": self.issuer,
            "nbf": now - 5, "iat": now - 5, "exp": now + int(lifetime),
            "ref": "refs/heads/main", "repository": "m365ops/remediation", "repository_owner": "m365ops",
            "event_name": "workflow_dispatch", "ref_type": "branch", "runner_environment": "github-hosted",
        }
        claims.update(extra or {})
        with self.lock:
            self.minted += 1
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def add_request_token(self, subject: str, lifetime: float = DEFAULT_LIFETIME, token: str | None = None) -> str:
        """Register a job: its request token mints tokens for ``subject`` valid ``lifetime`` seconds."""
        token = token or "emu-actions-" + secrets.token_urlsafe(24)
        with self.lock:
            self.request_tokens[token] = {"subject": subject, "lifetime": lifetime}
        return token

    # -- HTTP ------------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer a request under ``/oidc``."""
        if request.method != "GET":
            return json_response(405, {"message": "Method Not Allowed"})
        if request.path == PREFIX + "/.well-known/openid-configuration":
            return json_response(200, {
                "issuer": self.issuer,
                "jwks_uri": self.issuer + "/.well-known/jwks",
                "subject_types_supported": ["public", "pairwise"],
                "response_types_supported": ["id_token"],
                "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_owner",
                                     "event_name", "ref_type", "runner_environment"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid"],
            })
        if request.path == PREFIX + "/.well-known/jwks":
            return json_response(200, self.jwks())
        if request.path == REQUEST_PATH:
            return self._idtoken(request)
        return json_response(404, {"message": "Not Found"})

    def _idtoken(self, request: Request) -> Response:
        scheme, dummy, presented = request.header("authorization").partition(" ")
        del dummy
        with self.lock:
            job = self.request_tokens.get(presented.strip()) if scheme.lower() == "bearer" else None
        if job is None:
            return json_response(401, {"message": "Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable or the request "
                                                  "token is not valid for this job."})
        query = {k: v[-1] for k, v in parse_qs(request.query_string, keep_blank_values=True).items()}
        audience = query.get("audience") or DEFAULT_AUDIENCE_OWNER
        token = self.mint(str(job["subject"]), audience, float(job.get("lifetime", DEFAULT_LIFETIME)))
        return json_response(200, {"count": 1, "value": token})

    # -- control API -----------------------------------------------------------------------------------------

    def control(self, name: str, payload: Any) -> Response | None:
        """``POST /_emulator/oidc/token`` and ``POST /_emulator/oidc/request_token``; None for other names."""
        body = payload if isinstance(payload, dict) else {}
        if name == "oidc/token":
            token = self.mint(str(body["subject"]), str(body.get("audience") or "api://AzureADTokenExchange"),
                              float(body.get("lifetime", DEFAULT_LIFETIME)))
            return json_response(200, {"token": token, "issuer": self.issuer})
        if name == "oidc/request_token":
            token = self.add_request_token(str(body["subject"]), float(body.get("lifetime", DEFAULT_LIFETIME)))
            return json_response(200, {"request_token": token, "request_url": self.request_url(), "issuer": self.issuer})
        if name == "oidc/stats":
            with self.lock:
                return json_response(200, {"minted": self.minted})
        return None


__all__ = ["OidcIssuer", "ISSUER_PLACEHOLDER", "REQUEST_PATH", "PREFIX"]
