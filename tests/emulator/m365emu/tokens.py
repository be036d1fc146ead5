"""Entra ID v2.0: discovery, the client-credentials token endpoint, and access-token validation for the resource APIs."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import threading
import time
import uuid
from typing import Any, Callable
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .pki import b64url, b64url_decode
from .state import ROLE_TEMPLATE_IDS, App, State, Tenant
from .wire import Request, Response, json_response, new_id, utcnow

GRAPH_RESOURCE = "https://graph.microsoft.com"
EXCHANGE_RESOURCE = "https://outlook.office365.com"
# Azure Key Vault: every vault takes tokens of this one resource. Any app of a tenant may get one; the vault authorizes
# by its role assignments, not by app permissions.
VAULT_RESOURCE = "https://vault.azure.net"
VAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
# First-party app ids that name the same resources in a scope.
RESOURCE_ALIASES = {
    GRAPH_RESOURCE: GRAPH_RESOURCE,
    "00000003-0000-0000-c000-000000000000": GRAPH_RESOURCE,
    EXCHANGE_RESOURCE: EXCHANGE_RESOURCE,
    "00000002-0000-0ff1-ce00-000000000000": EXCHANGE_RESOURCE,
    VAULT_RESOURCE: VAULT_RESOURCE,
    VAULT_APP_ID: VAULT_RESOURCE,
}
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3599
CLOCK_SKEW = 300
DIRECTORY_ROLES_CLAIM = "xms_emu_directory_roles"

# Looks up the JWKS of a federated issuer: (issuer, federated credential) -> JWKS dict or None.
JwksResolver = Callable[[str, dict[str, Any]], "dict[str, Any] | None"]


class TokenRejected(Exception):
    """An access token failed validation; ``message`` is the resource service's wording.

    ``reason`` says why, for services that word it their own way: ``missing``, ``malformed``, ``signature``, ``expired``,
    ``audience`` or ``unknown`` (a well-signed token the emulator did not issue).
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


def role_template_id(name: str) -> str:
    """The directory role template id for a role name (stable made-up id for names the emulator does not know)."""
    return ROLE_TEMPLATE_IDS.get(name) or str(uuid.uuid5(uuid.NAMESPACE_OID, "role:" + name.lower()))


def aad_error(base_url: str, status: int, error: str, code: int, text: str, request: Request | None = None) -> Response:
    """An Entra error response in the real shape (error_description carries the AADSTS code and trace lines)."""
    trace_id, correlation_id = new_id(), (request.header("client-request-id") if request else "") or new_id()
    stamp = utcnow().strftime("%Y-%m-%d %H:%M:%SZ")
    description = f"AADSTS{code}: {text} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {stamp}"
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{base_url}/error?code={code}",
    }
    return json_response(status, body, _aad_headers(trace_id, correlation_id))


def _aad_headers(trace_id: str, correlation_id: str) -> dict[str, str]:
    return {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache", "x-ms-request-id": trace_id,
            "client-request-id": correlation_id}


def unknown_tenant(base_url: str, tenant_ref: str, request: Request | None = None) -> Response:
    """AADSTS90002, as for a tenant that does not exist."""
    return aad_error(base_url, 400, "invalid_request", 90002,
                     f"Tenant '{tenant_ref}' not found. Check to make sure you have the correct tenant ID and are signing "
                     "into the correct cloud. Check with your subscription administrator, this may happen if there are "
                     "no active subscriptions for the tenant.", request)


class TokenService:
    """Issues RS256 access tokens signed by the emulator's own key and validates them for Graph and Exchange."""

    def __init__(self, state_getter: Callable[[], State], base_url: str) -> None:
        self._state = state_getter
        self.base_url = base_url
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self.key.public_key()
        self.kid = b64url(uuid.uuid4().bytes)
        self.lock = threading.Lock()
        self.issued: dict[str, float] = {}
        # Every access token issued, for tests that search output for them (control route GET /_emulator/tokens).
        self.issued_jwts: list[str] = []
        self.cutoff: float | None = None
        self.jwks_resolvers: list[JwksResolver] = [_seed_jwks]
        # The emulator's own OIDC issuer (oidc.OidcIssuer): expands "{base_url}" in a credential's issuer.
        self.oidc: Any = None

    # -- discovery -------------------------------------------------------------------------------------------

    def openid_configuration(self, request: Request, tenant_ref: str) -> tuple[Response, str | None]:
        """``GET /{tenant}/v2.0/.well-known/openid-configuration``."""
        state = self._state()
        with state.lock:
            tenant = state.resolve(tenant_ref)
        if tenant is None:
            return unknown_tenant(self.base_url, tenant_ref, request), None
        # As Entra's: for a domain too, every endpoint names the tenant by its GUID.
        base = f"{self.base_url}/{tenant.id}"
        config = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{self.base_url}/{tenant.id}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.base_url}/{tenant.id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        return json_response(200, config), tenant.id

    def jwks(self, request: Request, tenant_ref: str) -> tuple[Response, str | None]:
        """``GET /{tenant}/discovery/v2.0/keys``: the public key that signs access tokens."""
        state = self._state()
        with state.lock:
            tenant = state.resolve(tenant_ref)
        if tenant is None:
            return unknown_tenant(self.base_url, tenant_ref, request), None
        numbers = self.public_key.public_numbers()
        key = {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
               "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
               "e": b64url(numbers.e.to_bytes(3, "big"))}
        return json_response(200, {"keys": [key]}), tenant.id

    # -- token endpoint --------------------------------------------------------------------------------------

    def token(self, request: Request, tenant_ref: str, token_tenant: str | None = None) -> tuple[Response, str | None]:
        """``POST /{tenant}/oauth2/v2.0/token`` (client credentials). Returns the response and the tenant id.

        ``token_tenant`` (the fault rule key of that name) issues the token for that tenant (a seed tenant's id or
        domain, or any value taken as an id) instead of the tenant the app signed in to.
        """
        state = self._state()
        with state.lock:
            tenant = state.resolve(tenant_ref)
        if tenant is None:
            return unknown_tenant(self.base_url, tenant_ref, request), None
        form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        err = self._check_form(request, form, tenant)
        if err is not None:
            return err, tenant.id
        client_id = form["client_id"].strip().lower()
        with state.lock:
            app = tenant.apps.get(client_id)
        if app is None:
            return self._err(request, 400, "unauthorized_client", 700016,
                             f"Application with identifier '{form['client_id']}' was not found in the directory '{tenant.name}'. "
                             "This can happen if the application has not been installed by the administrator of the tenant "
                             "or consented to by any user in the tenant. You may have sent your authentication request to "
                             "the wrong tenant."), tenant.id
        resource = RESOURCE_ALIASES[form["scope"].strip()[: -len("/.default")].rstrip("/").lower()]
        if "client_secret" in form and form["client_secret"]:
            if not any(hmac.compare_digest(form["client_secret"].encode("utf-8"), s.encode("utf-8")) for s in app.secrets):
                return self._err(request, 401, "invalid_client", 7000215,
                                 "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                                 f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'."), tenant.id
            acr = "1"
        elif form.get("client_assertion"):
            if form.get("client_assertion_type") != JWT_BEARER:
                return self._err(request, 400, "invalid_request", 900144,
                                 "The request body must contain the following parameter: 'client_assertion_type'."), tenant.id
            err = self._check_assertion(request, form["client_assertion"], app, tenant)
            if err is not None:
                return err, tenant.id
            acr = "2"
        else:
            return self._err(request, 401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."), tenant.id
        access_token = self.issue(tenant, app, resource, acr, issued_for=self._tenant_claim(token_tenant))
        body = {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "ext_expires_in": TOKEN_LIFETIME, "access_token": access_token}
        correlation = request.header("client-request-id") or new_id()
        return json_response(200, body, _aad_headers(new_id(), correlation)), tenant.id

    def _tenant_claim(self, token_tenant: str | None) -> str | None:
        """The ``tid`` a ``token_tenant`` fault puts in a token: a seed tenant's id, else the value as given."""
        if not token_tenant:
            return None
        state = self._state()
        with state.lock:
            other = state.resolve(token_tenant)
        return other.id if other is not None else token_tenant.lower()

    def _err(self, request: Request, status: int, error: str, code: int, text: str) -> Response:
        return aad_error(self.base_url, status, error, code, text, request)

    def _check_form(self, request: Request, form: dict[str, str], tenant: Tenant) -> Response | None:
        grant = form.get("grant_type")
        if not grant:
            return self._err(request, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
        if grant != "client_credentials":
            return self._err(request, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type ''" + grant + "''.")
        if not form.get("client_id"):
            return self._err(request, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
        scope = (form.get("scope") or "").strip()
        if not scope:
            return self._err(request, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return self._err(request, 400, "invalid_scope", 1002012,
                             f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value "
                             "with /.default suffixed to the resource identifier (application ID URI).")
        resource = scopes[0][: -len("/.default")].rstrip("/").lower()
        if not resource:
            return self._err(request, 400, "invalid_scope", 70011,
                             f"The provided request must include a 'scope' input parameter. The provided value for the input "
                             f"parameter 'scope' is not valid. The scope {scope} is not valid.")
        if resource not in RESOURCE_ALIASES:
            return self._err(request, 400, "invalid_resource", 500011,
                             f"The resource principal named {resource} was not found in the tenant named {tenant.name}. This can "
                             "happen if the application has not been installed by the administrator of the tenant or consented "
                             "to by any user in the tenant. You might have sent your authentication request to the wrong tenant.")
        return None

    def token_endpoints(self, tenant: Tenant) -> set[str]:
        """Every URL of this tenant's token endpoint (by id and by each domain), lower-case."""
        refs = [tenant.id] + tenant.domains
        # A client may name the emulator as localhost rather than 127.0.0.1 (the certificate covers both).
        bases = {self.base_url, self.base_url.replace("://127.0.0.1:", "://localhost:")}
        return {f"{base}/{r}/oauth2/v2.0/token".lower() for base in bases for r in refs}

    def _check_assertion(self, request: Request, assertion: str, app: App, tenant: Tenant) -> Response | None:
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return self._err(request, 401, "invalid_client", 50027, "JWT token is invalid or malformed.")
        if "x5t" in header or "x5t#S256" in header:
            return self._check_certificate_assertion(request, assertion, header, claims, app, tenant)
        return self._check_federated_assertion(request, assertion, header, claims, app)

    def _check_certificate_assertion(self, request: Request, assertion: str, header: dict[str, Any], claims: dict[str, Any],
                                     app: App, tenant: Tenant) -> Response | None:
        if "x5t#S256" in header:
            presented, attr = header["x5t#S256"], "sha256"
        else:
            presented, attr = header["x5t"], "sha1"
        try:
            thumb = b64url_decode(str(presented))
        except ValueError:
            thumb = b""
        shown = thumb.hex().upper()
        registered = next((c for c in app.certificates if hmac.compare_digest(getattr(c, attr), thumb)), None)
        portal_hint = (f"Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id "
                       f"'{app.client_id}'.")
        if registered is None:
            return self._err(request, 401, "invalid_client", 700027,
                             f"Client assertion failed signature validation. (Reason - The key was not found., Thumbprint of key "
                             f"used by client: '{shown}', {portal_hint})")
        now = utcnow()
        start, end = registered.cert.not_valid_before_utc, registered.cert.not_valid_after_utc
        if end < now or start > now:
            reason = "The key used is expired." if end < now else "The key used is not yet valid."
            return self._err(request, 401, "invalid_client", 700027,
                             f"Client assertion failed signature validation. (Reason - {reason}, Thumbprint of key used by client: "
                             f"'{shown}', Found key 'Start={start:%m/%d/%Y %H:%M:%S}, End={end:%m/%d/%Y %H:%M:%S}', {portal_hint})")
        try:
            jwt.decode(assertion, registered.cert.public_key(), algorithms=["RS256", "PS256"],
                       options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False})
        except jwt.PyJWTError:
            return self._err(request, 401, "invalid_client", 700027,
                             f"Client assertion failed signature validation. (Reason - The signature is invalid., Thumbprint of key "
                             f"used by client: '{shown}')")
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if not any(str(a).lower() in self.token_endpoints(tenant) for a in audiences):
            return self._err(request, 401, "invalid_client", 700023,
                             f"Client assertion audience claim does not match Realm issuer. Review the documentation at "
                             f"{self.base_url}/{tenant.id}/oauth2/v2.0/token .")
        if str(claims.get("iss", "")).lower() != app.client_id or str(claims.get("sub", "")).lower() != app.client_id:
            return self._err(request, 401, "invalid_client", 700021,
                             "Client assertion application identifier doesn't match 'client_id' parameter. Review the "
                             "documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")
        return self._check_times(request, claims)

    def _check_times(self, request: Request, claims: dict[str, Any]) -> Response | None:
        now = time.time()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        bad = not isinstance(exp, (int, float)) or exp <= now - CLOCK_SKEW
        bad = bad or (isinstance(nbf, (int, float)) and nbf > now + CLOCK_SKEW)
        bad = bad or (isinstance(iat, (int, float)) and iat > now + CLOCK_SKEW)
        if bad:
            def fmt(value: Any) -> str:
                if not isinstance(value, (int, float)):
                    return "(none)"
                return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%m/%d/%Y %H:%M:%S")
            return self._err(request, 401, "invalid_client", 700024,
                             f"Client assertion is not within its valid time range. Current time: {fmt(now)}, assertion valid "
                             f"from {fmt(nbf if nbf is not None else iat)}, expiry time of assertion {fmt(exp)}. Review the "
                             "documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")
        return None

    def _check_federated_assertion(self, request: Request, assertion: str, header: dict[str, Any], claims: dict[str, Any],
                                   app: App) -> Response | None:
        issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else [str(a) for a in audiences or []]
        match = None
        for cred in app.federated_credentials:
            allowed = cred.get("audiences") or [cred.get("audience", "api://AzureADTokenExchange")]
            cred_issuer = self.oidc.expand(cred.get("issuer")) if self.oidc is not None else cred.get("issuer")
            if cred_issuer == issuer and cred.get("subject") == subject and any(a in allowed for a in audiences):
                match = cred
                break
        if match is None:
            return self._err(request, 401, "invalid_client", 70021,
                             f"No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. "
                             f"Assertion Subject: '{subject}'. Assertion Audience: '{','.join(audiences)}'. "
                             "https://learn.microsoft.com/entra/workload-id/workload-identity-federation")
        jwks = None
        for resolver in self.jwks_resolvers:
            jwks = resolver(issuer, match)
            if jwks:
                break
        if jwks:
            try:
                keyset = jwt.PyJWKSet.from_dict(jwks)
                kid = header.get("kid")
                candidates = [k for k in keyset.keys if kid is None or k.key_id == kid]
                if not candidates:
                    raise jwt.InvalidSignatureError("no key")
                jwt.decode(assertion, candidates[0].key, algorithms=["RS256", "RS384", "RS512", "PS256", "ES256"],
                           options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False})
            except (jwt.PyJWTError, jwt.PyJWKSetError, KeyError, ValueError):
                return self._err(request, 401, "invalid_client", 700027,
                                 f"Client assertion failed signature validation. (Reason - The key was not found or the signature "
                                 f"is invalid for issuer '{issuer}'.)")
        return self._check_times(request, claims)

    # -- access tokens ---------------------------------------------------------------------------------------

    def issue(self, tenant: Tenant, app: App, resource: str, acr: str = "1", issued_for: str | None = None) -> str:
        """A signed access token for ``app`` in ``tenant`` for ``resource``; ``issued_for`` replaces the tenant id in it."""
        tenant_id = issued_for or tenant.id
        now = int(time.time())
        uti = b64url(uuid.uuid4().bytes)
        roles = app.graph_permissions if resource == GRAPH_RESOURCE else app.exchange_permissions
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME,
            "aio": b64url(uuid.uuid4().bytes),
            "app_displayname": app.display_name,
            "appid": app.client_id, "azp": app.client_id, "appidacr": acr,
            "idp": f"https://sts.windows.net/{tenant_id}/", "idtyp": "app",
            "oid": app.service_principal_id, "sub": app.service_principal_id,
            # Key Vault has no app permissions: its tokens carry no roles claim.
            **({"roles": list(roles)} if resource != VAULT_RESOURCE else {}),
            "wids": [role_template_id(r) for r in app.directory_roles] + ["0997a1d0-0d1d-4acb-b408-d5ca73121e90"],
            DIRECTORY_ROLES_CLAIM: list(app.directory_roles),
            "tid": tenant_id, "uti": uti, "ver": "1.0", "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"typ": "JWT", "kid": self.kid, "x5t": self.kid})
        with self.lock:
            self.issued[uti] = time.time()
            self.issued_jwts.append(token)
        return token

    def issued_tokens(self) -> list[str]:
        """Every access token issued since start (kept across resets, like the signing key)."""
        with self.lock:
            return list(self.issued_jwts)

    def expire_all(self) -> None:
        """Invalidate every token issued so far (the ``expire_tokens`` fault)."""
        with self.lock:
            self.cutoff = time.time()

    def reset(self) -> None:
        """Forget the expiry cut-off (the signing key stays, so earlier tokens stay valid after a state reset)."""
        with self.lock:
            self.cutoff = None

    def decode(self, token: str) -> dict[str, Any]:
        """Claims of a token this emulator signed and issued (and has not expired), whatever its audience.

        Raises :class:`TokenRejected` with ``reason`` ``malformed``, ``signature``, ``expired`` or ``unknown``; the caller
        checks the audience and tenant and words the refusal as its service does.
        """
        if token.count(".") != 2:
            raise TokenRejected("IDX14100: JWT is not well formed, there are no dots (.).", "malformed")
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"], options={"verify_aud": False, "require": ["exp", "iat", "tid"]},
                                leeway=0)
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("Lifetime validation failed, the token is expired.", "expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRejected("Access token validation failure.", "signature") from exc
        except jwt.DecodeError as exc:
            raise TokenRejected("Access token validation failure.", "malformed") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected("Access token validation failure.", "unknown") from exc
        with self.lock:
            issued_at = self.issued.get(claims.get("uti", ""))
            cutoff = self.cutoff
        if issued_at is None:
            raise TokenRejected("Access token validation failure.", "unknown")
        if cutoff is not None and issued_at <= cutoff:
            raise TokenRejected("Lifetime validation failed, the token is expired.", "expired")
        return claims

    def validate(self, authorization: str, audience: str) -> dict[str, Any]:
        """Claims of a valid bearer token for ``audience``; raises :class:`TokenRejected` with the service wording."""
        scheme, _sep, token = authorization.strip().partition(" ")
        if not authorization.strip() or (scheme.lower() == "bearer" and not token.strip()):
            raise TokenRejected("Access token is empty.")
        if scheme.lower() != "bearer":
            raise TokenRejected("Access token validation failure. Invalid scheme.")
        token = token.strip()
        if token.count(".") != 2:
            raise TokenRejected("IDX14100: JWT is not well formed, there are no dots (.).")
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"], audience=audience,
                                options={"require": ["exp", "iat", "aud", "tid"]}, leeway=0)
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("Lifetime validation failed, the token is expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRejected("Access token validation failure. Invalid audience.") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected("Access token validation failure.") from exc
        with self.lock:
            issued_at = self.issued.get(claims.get("uti", ""))
            cutoff = self.cutoff
        if issued_at is None:
            raise TokenRejected("Access token validation failure.")
        if cutoff is not None and issued_at <= cutoff:
            raise TokenRejected("Lifetime validation failed, the token is expired.")
        return claims


def token_has_role(claims: dict[str, Any], *names: str) -> bool:
    """Whether the token's service principal holds one of the directory roles ``names`` (by template id)."""
    held = set(claims.get("wids") or [])
    return any(role_template_id(n) in held for n in names)


def _seed_jwks(issuer: str, credential: dict[str, Any]) -> dict[str, Any] | None:
    """The JWKS a seed gives inline on a federated credential (``jwks``: dict or JSON text)."""
    del issuer  # the credential already belongs to the issuer
    jwks = credential.get("jwks")
    if isinstance(jwks, str):
        return json.loads(jwks)
    return jwks if isinstance(jwks, dict) else None
