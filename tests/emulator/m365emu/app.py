"""The emulator core: routing, fault injection, journal and the control API (HTTP-agnostic)."""

from __future__ import annotations

import copy
import json
import re
import time
from typing import Any

from .exchange import ExchangeService, is_write
from .faults import FaultEngine, FaultError
from .graph import GraphService
from .journal import Journal, body_shape, cmdlet_parameters_shape
from .keyvault import PREFIX as VAULT_PREFIX, KeyVaultService
from .oidc import PREFIX as OIDC_PREFIX, OidcIssuer
from .state import SeedError, State, fingerprint, vault_from_seed
from .tokens import TokenService, aad_error
from .wire import Request, Response, json_response, parse_datetime

_TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
_DISCOVERY_PATH = re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$")
_KEYS_PATH = re.compile(r"^/([^/]+)/discovery/v2\.0/keys$")
_EXCHANGE_PATH = re.compile(r"^/adminapi/beta/([^/]+)/InvokeCommand$", re.I)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class Emulator:
    """All services behind one ``handle(request) -> Response``; thread-safe."""

    def __init__(self, seed: dict[str, Any], base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.start_seed = copy.deepcopy(seed)
        self.state = State(seed)
        self.tokens = TokenService(lambda: self.state, self.base_url)
        self.oidc = OidcIssuer(self.base_url, _oidc_request_tokens(seed))
        self.tokens.oidc = self.oidc
        self.tokens.jwks_resolvers.append(self.oidc.jwks_resolver)
        self.faults = FaultEngine()
        self.faults.set(list(seed.get("faults") or []))
        self.journal = Journal()
        self.graph = GraphService(self)
        self.exchange = ExchangeService(self)
        self.keyvault = KeyVaultService(self)
        # Bumped by every reset: requests that were delayed across one are dropped (see _service).
        self.generation = 0

    # -- dispatch --------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (control, token, Graph or Exchange)."""
        if request.path.startswith("/_emulator/"):
            return self.control(request)
        if request.path.startswith("/v1.0/"):
            return self._service(request, "graph", self.graph.peek_tenant(request), None)
        if request.path.startswith(VAULT_PREFIX):
            return self._service(request, "keyvault", self.keyvault.peek_tenant(request.path), None)
        if request.path.startswith(OIDC_PREFIX + "/"):
            return self._finish({"tenant": None, "service": "oidc", "method": request.method,
                                 "path": request.path, "cmdlet": None, "write": False}, self.oidc.handle(request))
        match = _EXCHANGE_PATH.match(request.path)
        if match:
            return self._service(request, "exchange", match.group(1), self.exchange.peek_cmdlet(request))
        for pattern in (_TOKEN_PATH, _DISCOVERY_PATH, _KEYS_PATH):
            match = pattern.match(request.path)
            if match:
                return self._service(request, "token", match.group(1), None)
        return json_response(404, {"error": {"code": "NotFound", "message": f"No route for {request.method} {request.path}."}})

    def _tenant_keys(self, tenant_ref: str | None) -> tuple[set[str], str | None]:
        if not tenant_ref:
            return set(), None
        with self.state.lock:
            tenant = self.state.resolve(tenant_ref)
        if tenant is None:
            return {tenant_ref.lower()}, None
        return {tenant.id} | {d.lower() for d in tenant.domains}, tenant.id

    def _service(self, request: Request, service: str, tenant_ref: str | None, cmdlet: str | None) -> Response:
        keys, tenant_id = self._tenant_keys(tenant_ref)
        write = False
        if service == "graph":
            write = request.method in ("PATCH", "POST", "PUT", "DELETE") and request.path != "/v1.0/$batch"
        elif service == "exchange":
            write = is_write(cmdlet)
        elif service == "keyvault":
            write = request.method in ("PUT", "PATCH", "DELETE")
        entry: dict[str, Any] = {"tenant": tenant_id or tenant_ref, "service": service, "method": request.method,
                                 "path": request.target, "cmdlet": cmdlet, "write": write}
        if service in ("graph", "exchange", "keyvault"):
            # Names and JSON types of the body, never a value (tests/conformance checks them against the reference).
            entry["shape"] = body_shape(request.body)
        if service == "exchange":
            entry["identity"] = _cmdlet_identity(request)
            entry["parameters"] = cmdlet_parameters_shape(entry["shape"])
        scope = "envelope" if service == "graph" and request.path == "/v1.0/$batch" else "request"
        issues_token = service == "token" and request.method == "POST" and _TOKEN_PATH.match(request.path) is not None
        decision = self.faults.evaluate(service, keys, request.target, cmdlet, scope, issues_token)
        if decision.fired:
            self.journal.bump("faults_fired")
        admitted = False
        if service == "exchange" and not decision.drop and decision.status is None:
            refused = self.exchange.admit(tenant_id)
            if refused is not None:
                if refused.body.startswith(b"You have reached"):
                    entry["refusal"] = "concurrency"
                return self._finish(entry, refused)
            admitted = tenant_id is not None
        try:
            if decision.latency:
                generation = self.generation
                time.sleep(decision.latency)
                if generation != self.generation:
                    # Reset while this request waited: it belongs to a test that is over and must not touch
                    # the new state (nor its journal). The connection is closed without an answer.
                    return Response(0, drop=True)
            if decision.drop:
                entry["status"] = None
                entry["dropped"] = True
                self.journal.record(entry)
                self.journal.bump("dropped")
                return Response(0, drop=True)
            if decision.expire_tokens:
                self.tokens.expire_all()
            if decision.status is not None:
                if decision.refusal:
                    entry["refusal"] = decision.refusal
                return self._finish(entry, self._fault_response(request, service, decision.status, decision.retry_after, tenant_ref,
                                                                decision.refusal))
            return self._finish(entry, self._call(request, service, tenant_ref, entry, decision.token_tenant))
        finally:
            if admitted:
                self.exchange.release(tenant_id)

    def _call(self, request: Request, service: str, tenant_ref: str | None, entry: dict[str, Any],
              token_tenant: str | None = None) -> Response:
        if service == "graph":
            return self.graph.handle(request, entry)
        if service == "exchange":
            return self.exchange.handle(request, tenant_ref or "")
        if service == "keyvault":
            return self.keyvault.handle(request)
        ref = tenant_ref or ""
        if _TOKEN_PATH.match(request.path):
            if request.method != "POST":
                return aad_error(self.base_url, 405, "invalid_request", 900561,
                                 "The endpoint only accepts POST requests. Received a GET request.", request)
            response, tenant_id = self.tokens.token(request, ref, token_tenant)
        elif _DISCOVERY_PATH.match(request.path):
            response, tenant_id = self.tokens.openid_configuration(request, ref)
        else:
            response, tenant_id = self.tokens.jwks(request, ref)
        entry["tenant"] = tenant_id or ref
        return response

    def _fault_response(self, request: Request, service: str, status: int, retry_after: str | None, tenant_ref: str | None,
                        refusal: str | None = None) -> Response:
        if service == "graph":
            return self.graph.fault_response(request, status, retry_after, tenant_ref or "")
        if service == "exchange":
            return self.exchange.fault_response(status, retry_after, refusal)
        if service == "keyvault":
            return self.keyvault.fault_response(request, status, retry_after)
        response = aad_error(self.base_url, status, "temporarily_unavailable", 90033,
                             "A transient error has occurred. Please try again.", request)
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response

    def _finish(self, entry: dict[str, Any], response: Response) -> Response:
        entry["status"] = response.status
        self.journal.record(entry)
        return response

    # -- control API -----------------------------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        """The ``/_emulator/`` routes (loopback only, not journaled)."""
        if request.client_ip not in LOOPBACK:
            return json_response(403, {"error": "the control API answers loopback clients only"})
        name = request.path[len("/_emulator/"):].strip("/")
        try:
            payload = request.json()
        except ValueError:
            return json_response(400, {"error": "malformed JSON body"})
        query = request.query()
        route = (request.method, name)
        try:
            if route == ("GET", "journal"):
                next_seq, entries = self.journal.since(int(query.get("since", "0") or 0))
                return json_response(200, {"next": next_seq, "entries": entries})
            if route == ("POST", "reset"):
                self.reset(payload)
                return json_response(200, {"ok": True})
            if route == ("POST", "faults"):
                rules = payload.get("faults") if isinstance(payload, dict) else payload
                self.faults.set(rules if rules is not None else [])
                return json_response(200, {"faults": self.faults.describe()})
            if route == ("DELETE", "faults"):
                self.faults.clear()
                return json_response(200, {"faults": []})
            if route == ("GET", "faults"):
                return json_response(200, {"faults": self.faults.describe()})
            if route == ("GET", "state"):
                return self._state_view(query.get("tenant", ""))
            if route == ("POST", "restrict"):
                return self._restrict(payload)
            if route == ("GET", "stats"):
                return json_response(200, self.journal.stats())
            if route == ("GET", "tokens"):
                return json_response(200, {"tokens": self.tokens.issued_tokens()})
            if route == ("POST", "expire_tokens"):
                self.tokens.expire_all()
                return json_response(200, {"ok": True})
            if route == ("POST", "key_vaults"):
                return self._add_vault(payload)
            if route == ("POST", "credential_in"):
                return self._credential_in(payload)
            if name.startswith("vaults/") and request.method == ("GET" if name.count("/") == 1 else "POST"):
                answer = self.keyvault.control(name, payload)
                if answer is not None:
                    return answer
            if name.startswith("oidc/"):
                answer = self.oidc.control(name, payload)
                if answer is not None:
                    return answer
        except (FaultError, SeedError, ValueError, KeyError, TypeError) as exc:
            return json_response(400, {"error": f"{type(exc).__name__}: {exc}"})
        return json_response(404, {"error": f"no control route {request.method} /_emulator/{name}"})

    def reset(self, seed: dict[str, Any] | None) -> None:
        """Replace the state (with ``seed`` or the start seed) and clear journal, faults, throttling and token expiry."""
        seed = copy.deepcopy(seed) if seed else copy.deepcopy(self.start_seed)
        new_state = State(seed)
        self.faults.set(list(seed.get("faults") or []))
        for token, job in _oidc_request_tokens(seed).items():
            self.oidc.add_request_token(str(job["subject"]), float(job.get("lifetime", 300)), token)
        self.state = new_state
        self.generation += 1
        self.journal.clear()
        self.tokens.reset()
        self.exchange.reset()

    def _credential_in(self, payload: Any) -> Response:
        """``POST /_emulator/credential_in`` ``{"tenant", "user", "as", "text"}``: whether any stretch of ``text`` as long as
        the user's current password (or pass: ``as``) is it, compared through the fingerprints; for tests that search
        output and files for a credential nobody may read back. Answers ``{"found": bool, "length": int|null}``."""
        if not isinstance(payload, dict) or not payload.get("tenant") or not payload.get("user"):
            return json_response(400, {"error": "body must be {\"tenant\", \"user\", \"as\", \"text\"}"})
        with self.state.lock:
            tenant = self.state.resolve(str(payload["tenant"]))
            if tenant is None:
                return json_response(404, {"error": f"unknown tenant {payload['tenant']!r}"})
            user = tenant.find_user(str(payload["user"]))
            if user is None:
                return json_response(404, {"error": f"unknown user {payload['user']!r}"})
            wanted = tenant.current_fingerprint(user["id"], str(payload.get("as") or "password"))
            length = tenant.credential_lengths.get((user["id"], str(payload.get("as") or "password")))
        text = str(payload.get("text") or "")
        if wanted is None or not length:
            return json_response(200, {"found": False, "length": None})
        found = any(fingerprint(text[i:i + length]) == wanted for i in range(0, max(len(text) - length + 1, 0)))
        return json_response(200, {"found": found, "length": length})

    def _state_view(self, tenant_ref: str) -> Response:
        with self.state.lock:
            tenant = self.state.resolve(tenant_ref)
            if tenant is None:
                return json_response(404, {"error": f"unknown tenant {tenant_ref!r}"})
            return json_response(200, self.state.view(tenant))

    def _add_vault(self, payload: Any) -> Response:
        """``POST /_emulator/key_vaults`` ``{"name", "tenant", "role_assignments"}``: add a vault, or replace the tenant and
        role assignments of the vault of that name (its secrets stay). Until the next reset."""
        with self.state.lock:
            vault = self.state.add_vault(vault_from_seed(payload, self.state))
            return json_response(200, self.keyvault.view(vault))

    def _restrict(self, payload: Any) -> Response:
        if not isinstance(payload, dict) or not payload.get("tenant") or not payload.get("address"):
            return json_response(400, {"error": "body must be {\"tenant\", \"address\", \"reason\"?}"})
        with self.state.lock:
            tenant = self.state.resolve(str(payload["tenant"]))
            if tenant is None:
                return json_response(404, {"error": f"unknown tenant {payload['tenant']!r}"})
            when = parse_datetime(payload["when"]) if payload.get("when") else None
            entry = tenant.restrict(str(payload["address"]), payload.get("reason"), when, bool(payload.get("temporary", False)))
            view = {k: (v if not hasattr(v, "isoformat") else v.isoformat()) for k, v in entry.items()}
        return json_response(200, {"restricted": view})


def _cmdlet_identity(request: Request) -> str | None:
    """The object a cmdlet acts on (``SenderAddress`` or ``Identity``), for the journal; None when absent."""
    try:
        body = request.json()
        parameters = body["CmdletInput"]["Parameters"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(parameters, dict):
        return None
    value = parameters.get("SenderAddress") or parameters.get("Identity")
    return str(value) if value is not None else None


def _oidc_request_tokens(seed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The seed's CI jobs: ``{"oidc": {"request_tokens": {token: {"subject", "lifetime"}}}}``."""
    oidc = seed.get("oidc") or {}
    return dict(oidc.get("request_tokens") or {}) if isinstance(oidc, dict) else {}


def load_seed(text: str) -> dict[str, Any]:
    """Parse seed JSON text."""
    seed = json.loads(text)
    if not isinstance(seed, dict):
        raise SeedError("a seed must be a JSON object")
    return seed
