"""Multi-tenant directory and Exchange state built from a seed; every access goes through ``State.lock``."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .wire import iso_precise, iso_seconds, parse_datetime, utcnow

# Template ids of the directory roles the emulator knows (as in the `wids` claim of real tokens).
ROLE_TEMPLATE_IDS = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "Exchange Recipient Administrator": "31392ffb-586c-42d1-9346-e59415a2cc4e",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Privileged Authentication Administrator": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Authentication Administrator": "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
}

USER_PROPERTIES = (
    "id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "mailNickname", "jobTitle",
    "mobilePhone", "officeLocation", "preferredLanguage", "businessPhones", "proxyAddresses", "accountEnabled",
    "onPremisesSyncEnabled", "lastPasswordChangeDateTime", "signInSessionsValidFromDateTime", "userType",
    "createdDateTime", "usageLocation",
)

MAILBOX_FIELDS = ("ForwardingSmtpAddress", "ForwardingAddress", "DeliverToMailboxAndForward")
# Client access settings (Get-/Set-CASMailbox) and their defaults; SmtpClientAuthenticationDisabled null = the tenant's setting.
CAS_DEFAULTS = {"PopEnabled": True, "ImapEnabled": True, "EwsEnabled": True, "ActiveSyncEnabled": True,
                "SmtpClientAuthenticationDisabled": None}
# The folders every mailbox has: (well-known name, display name).
WELL_KNOWN_FOLDERS = (("inbox", "Inbox"), ("drafts", "Drafts"), ("sentitems", "Sent Items"), ("deleteditems", "Deleted Items"),
                      ("junkemail", "Junk Email"), ("archive", "Archive"), ("outbox", "Outbox"),
                      ("conversationhistory", "Conversation History"), (None, "RSS Feeds"))
# The password method's fixed id in Graph; it is always there and cannot be deleted.
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"
PASSWORD_METHOD_TYPE = "#microsoft.graph.passwordAuthenticationMethod"
# Methods that cannot be a user's default sign-in method (e-mail serves password reset only; a Temporary Access Pass is
# short-lived), besides the password.
NOT_DEFAULT_TYPES = (PASSWORD_METHOD_TYPE, "#microsoft.graph.emailAuthenticationMethod",
                     "#microsoft.graph.temporaryAccessPassAuthenticationMethod")

# Cheap on purpose: the benchmark resets 10,000 passwords on the machine it measures, where 1,000 rounds of
# PBKDF2 cost 2.5 s of its CPU; the point is only that the clear text is never kept.
_HASH_ITERATIONS = 1

# The key of :func:`fingerprint`: made once per process (kept across resets, like the token signing key), never shown.
_FINGERPRINT_KEY = os.urandom(32)

# The Temporary Access Pass policy of a tenant whose seed says nothing (Microsoft's documented defaults).
TAP_POLICY_DEFAULTS: dict[str, Any] = {"state": "enabled", "defaultLifetimeInMinutes": 60, "minimumLifetimeInMinutes": 60,
                                       "maximumLifetimeInMinutes": 480, "defaultLength": 8, "isUsableOnce": False}

# Key Vault's built-in roles (Azure RBAC) and the secret data actions each grants (Azure built-in roles, Security).
VAULT_ROLES: dict[str, frozenset[str]] = {
    "Key Vault Administrator": frozenset({"getSecret", "readMetadata", "setSecret", "update", "delete"}),
    "Key Vault Secrets Officer": frozenset({"getSecret", "readMetadata", "setSecret", "update", "delete"}),
    "Key Vault Secrets User": frozenset({"getSecret", "readMetadata"}),
    "Key Vault Reader": frozenset({"readMetadata"}),
}
_VAULT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")


def fingerprint(value: str) -> str:
    """A keyed fingerprint of a secret value (HMAC-SHA256 hex under a per-process random key).

    Two values are the same exactly when their fingerprints are; the value cannot be recovered from it, nor guessed
    offline without the key. The emulator keeps passwords, Temporary Access Passes and vault secrets only as these.
    """
    return hmac.new(_FINGERPRINT_KEY, value.encode("utf-8"), hashlib.sha256).hexdigest()


class SeedError(ValueError):
    """The seed is malformed."""


@dataclass
class RegisteredCertificate:
    """A certificate credential registered on an app."""

    pem: str
    cert: x509.Certificate
    sha1: bytes
    sha256: bytes

    @classmethod
    def from_pem(cls, pem: str) -> "RegisteredCertificate":
        """Parse a PEM certificate and compute its thumbprints."""
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        return cls(pem, cert, cert.fingerprint(hashes.SHA1()), cert.fingerprint(hashes.SHA256()))  # nosec B303


@dataclass
class App:
    """An app registration plus its service principal in the tenant."""

    client_id: str
    display_name: str
    secrets: list[str]
    certificates: list[RegisteredCertificate]
    federated_credentials: list[dict[str, Any]]
    graph_permissions: list[str]
    exchange_permissions: list[str]
    directory_roles: list[str]
    service_principal_id: str

    def has_role(self, *names: str) -> bool:
        """Whether the service principal holds any of the directory roles ``names``."""
        held = {r.lower() for r in self.directory_roles}
        return any(n.lower() in held for n in names)


@dataclass
class Tenant:
    """One tenant: apps, users (with mailboxes), the Restricted Users list and unblock counters."""

    id: str
    name: str
    domains: list[str]
    unblock_limit: int
    apps: dict[str, App]
    users: list[dict[str, Any]]
    restricted: dict[str, dict[str, Any]] = field(default_factory=dict)
    unblock_counts: dict[str, int] = field(default_factory=dict)
    passwords: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)
    # user id -> fingerprint of the password last set through Graph (next to the salted hash above).
    password_fingerprints: dict[str, str] = field(default_factory=dict)
    # user id -> (method id, fingerprint) of the user's current Temporary Access Pass issued through Graph.
    taps: dict[str, tuple[str, str]] = field(default_factory=dict)
    # (user id, "password" or "temporary_access_pass") -> the length of the current one: what a test needs to search
    # text for it through its fingerprint (the length is no secret).
    credential_lengths: dict[tuple[str, str], int] = field(default_factory=dict)
    # The Temporary Access Pass authentication method policy (seed key ``temporary_access_pass``).
    tap_policy: dict[str, Any] = field(default_factory=lambda: dict(TAP_POLICY_DEFAULTS))
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_upn: dict[str, dict[str, Any]] = field(default_factory=dict)

    def index(self) -> None:
        """Rebuild the lookup maps after users change."""
        self.by_id = {u["id"].lower(): u for u in self.users}
        self.by_upn = {u["userPrincipalName"].lower(): u for u in self.users}

    def find_user(self, ref: str) -> dict[str, Any] | None:
        """A user by object id or UPN (case-insensitive)."""
        key = ref.lower()
        return self.by_id.get(key) or self.by_upn.get(key)

    def find_mailbox_user(self, identity: str) -> dict[str, Any] | None:
        """A mailbox user by any Exchange identity form: id, UPN, SMTP address, alias or name."""
        user = self.find_user(identity)
        if user is not None and user.get("mailbox") is not None:
            return user
        key = identity.lower()
        for cand in self.users:
            if cand.get("mailbox") is None:
                continue
            addresses = {a.split(":", 1)[-1].lower() for a in cand.get("proxyAddresses") or []}
            if cand.get("mail"):
                addresses.add(cand["mail"].lower())
            names = {cand["userPrincipalName"].split("@")[0].lower(), (cand.get("displayName") or "").lower()}
            if key in addresses or key in names:
                return cand
        return None

    def set_password(self, user_id: str, password: str) -> None:
        """Keep a salted hash and the :func:`fingerprint` of a new password, never the password itself."""
        salt = os.urandom(16)
        self.passwords[user_id] = (salt, hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _HASH_ITERATIONS))
        self.password_fingerprints[user_id] = fingerprint(password)
        self.credential_lengths[(user_id, "password")] = len(password)

    def current_fingerprint(self, user_id: str, kind: str) -> str | None:
        """The fingerprint of the user's current password (``kind`` ``password``) or Temporary Access Pass
        (``temporary_access_pass``) as set through Graph; None when there is none."""
        if kind == "password":
            return self.password_fingerprints.get(user_id)
        if kind == "temporary_access_pass":
            tap = self.taps.get(user_id)
            return tap[1] if tap else None
        raise ValueError(f"'as' must be 'password' or 'temporary_access_pass', not {kind!r}")

    def check_password(self, user_id: str, password: str) -> bool:
        """Whether ``password`` is the user's current password (as set through Graph)."""
        stored = self.passwords.get(user_id)
        if stored is None:
            return False
        salt, digest = stored
        return hmac.compare_digest(digest, hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _HASH_ITERATIONS))

    def restrict(self, address: str, reason: str | None = None, when: dt.datetime | None = None,
                 temporary: bool = False) -> dict[str, Any]:
        """Put an address on the Restricted Users list (or refresh its entry)."""
        when = when or utcnow()
        key = address.lower()
        entry = self.restricted.get(key)
        if entry is None:
            entry = {"SenderAddress": address, "CreatedDatetime": when}
            self.restricted[key] = entry
        entry["Reason"] = reason or default_reason()
        entry["ChangedDatetime"] = when
        entry["TemporaryBlock"] = temporary
        return entry


@dataclass
class SecretVersion:
    """One version of a Key Vault secret: its attributes and the :func:`fingerprint` of its value, never the value."""

    name: str
    version: str
    value_fingerprint: str
    created: int
    updated: int
    enabled: bool = True
    nbf: int | None = None
    exp: int | None = None
    content_type: str | None = None
    tags: dict[str, str] | None = None

    def view(self) -> dict[str, Any]:
        """The control API's view: attributes, tags and content type (no value, no fingerprint)."""
        attributes: dict[str, Any] = {"enabled": self.enabled, "created": self.created, "updated": self.updated}
        if self.nbf is not None:
            attributes["nbf"] = self.nbf
        if self.exp is not None:
            attributes["exp"] = self.exp
        return {"version": self.version, "attributes": attributes, "tags": copy.deepcopy(self.tags), "contentType": self.content_type}


@dataclass
class KeyVault:
    """An Azure Key Vault (RBAC permission model) in one tenant: role assignments by app client id, and secrets."""

    name: str
    tenant_id: str
    role_assignments: list[dict[str, str]]
    location: str = "westeurope"
    subscription_id: str = ""
    resource_group: str = "m365emu"
    # Lower-case secret name -> versions, oldest first.
    secrets: dict[str, list[SecretVersion]] = field(default_factory=dict)

    def roles_of(self, client_id: str) -> list[str]:
        """The vault roles assigned to the app ``client_id``."""
        key = client_id.lower()
        return [a["role"] for a in self.role_assignments if a["client_id"] == key]

    def allows(self, client_id: str, action: str) -> bool:
        """Whether a role assigned to ``client_id`` grants the secret data action ``action`` (``getSecret``, ...)."""
        return any(action in VAULT_ROLES[role] for role in self.roles_of(client_id))

    def resource_id(self) -> str:
        """The vault's Azure resource id, lower-case as the service writes it in its refusals."""
        return (f"/subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}/providers/microsoft.keyvault/"
                f"vaults/{self.name}").lower()


def vault_from_seed(raw: Any, state: "State") -> KeyVault:
    """One entry of the seed's ``key_vaults``: ``{"name", "tenant", "role_assignments": [{"client_id", "role"}]}``
    (optional ``location``, ``subscription_id``, ``resource_group``, which only appear in refusal texts)."""
    if not isinstance(raw, dict) or not raw.get("name") or not raw.get("tenant"):
        raise SeedError("every key vault needs a name and a tenant")
    name = str(raw["name"])
    if not _VAULT_NAME.match(name) or "--" in name:
        raise SeedError(f"key vault name {name!r}: 3-24 letters, digits and single hyphens, starting with a letter")
    tenant = state.resolve(str(raw["tenant"]))
    if tenant is None:
        raise SeedError(f"key vault {name}: unknown tenant {raw['tenant']!r}")
    assignments = []
    for entry in raw.get("role_assignments") or []:
        if not isinstance(entry, dict) or not entry.get("client_id") or entry.get("role") not in VAULT_ROLES:
            raise SeedError(f"key vault {name}: every role assignment needs a client_id and a role, one of {sorted(VAULT_ROLES)}")
        assignments.append({"client_id": str(entry["client_id"]).lower(), "role": str(entry["role"])})
    subscription = str(raw.get("subscription_id") or uuid.uuid5(uuid.NAMESPACE_URL, f"m365emu/subscription/{tenant.id}"))
    return KeyVault(name=name, tenant_id=tenant.id, role_assignments=assignments, location=str(raw.get("location") or "westeurope"),
                    subscription_id=subscription, resource_group=str(raw.get("resource_group") or "m365emu"))


def tap_policy_from_seed(raw: Any) -> dict[str, Any]:
    """A tenant's ``temporary_access_pass`` policy, Microsoft's defaults for what it leaves out."""
    policy = dict(TAP_POLICY_DEFAULTS)
    if raw is None:
        return policy
    if not isinstance(raw, dict) or set(raw) - set(TAP_POLICY_DEFAULTS):
        raise SeedError(f"temporary_access_pass takes {sorted(TAP_POLICY_DEFAULTS)}")
    policy.update(raw)
    numbers = ("defaultLifetimeInMinutes", "minimumLifetimeInMinutes", "maximumLifetimeInMinutes", "defaultLength")
    if policy["state"] not in ("enabled", "disabled") or not isinstance(policy["isUsableOnce"], bool) or any(
            isinstance(policy[n], bool) or not isinstance(policy[n], int) for n in numbers):
        raise SeedError("temporary_access_pass: state enabled/disabled, isUsableOnce a boolean, lifetimes and length integers")
    low, default, high = policy["minimumLifetimeInMinutes"], policy["defaultLifetimeInMinutes"], policy["maximumLifetimeInMinutes"]
    if not 10 <= low <= default <= high <= 43200 or not 8 <= policy["defaultLength"] <= 48:
        raise SeedError("temporary_access_pass: 10 <= minimum <= default <= maximum <= 43200 minutes, length 8 to 48")
    return policy


def default_reason() -> str:
    """The Reason text used when none is given: the outbound spam form."""
    return "OutboundSpamLast24Hours=312;OutboundMailLast24Hours=1520;OutboundSpamPercent=20"


def _user_from_seed(raw: dict[str, Any], tenant_domain: str) -> dict[str, Any]:
    if "userPrincipalName" not in raw:
        raise SeedError("every user needs a userPrincipalName")
    upn = raw["userPrincipalName"]
    user: dict[str, Any] = {
        "id": raw.get("id") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_domain}/{upn}")),
        "userPrincipalName": upn,
        "displayName": raw.get("displayName") or upn.split("@")[0].capitalize(),
        "givenName": raw.get("givenName"),
        "surname": raw.get("surname"),
        "mail": raw.get("mail", upn),
        "mailNickname": raw.get("mailNickname") or upn.split("@")[0],
        "jobTitle": raw.get("jobTitle"),
        "mobilePhone": raw.get("mobilePhone"),
        "officeLocation": raw.get("officeLocation"),
        "preferredLanguage": raw.get("preferredLanguage"),
        "businessPhones": list(raw.get("businessPhones") or []),
        "accountEnabled": raw.get("accountEnabled", True),
        "onPremisesSyncEnabled": raw.get("onPremisesSyncEnabled"),
        "userType": raw.get("userType", "Member"),
        "usageLocation": raw.get("usageLocation"),
        "createdDateTime": raw.get("createdDateTime", "2025-01-15T09:00:00Z"),
        "lastPasswordChangeDateTime": raw.get("lastPasswordChangeDateTime", "2026-06-01T00:00:00Z"),
        "signInSessionsValidFromDateTime": raw.get("signInSessionsValidFromDateTime", "2026-06-01T00:00:00Z"),
        "adminRoles": list(raw.get("adminRoles") or []),
        "passwordProfile": {"forceChangePasswordNextSignIn": False, "forceChangePasswordNextSignInWithMfa": False},
    }
    proxies = raw.get("proxyAddresses")
    if proxies is None:
        proxies = [f"SMTP:{user['mail']}"] if user["mail"] else []
    user["proxyAddresses"] = list(proxies)
    if "mailbox" in raw and raw["mailbox"] is None:
        user["mailbox"] = None
    else:
        mailbox = {"ForwardingSmtpAddress": None, "ForwardingAddress": None, "DeliverToMailboxAndForward": False, **CAS_DEFAULTS}
        mailbox.update({k: v for k, v in (raw.get("mailbox") or {}).items() if k in MAILBOX_FIELDS or k in CAS_DEFAULTS})
        user["mailbox"] = mailbox
        user["mailFolders"] = _folders_from_seed(user["id"], raw.get("mailFolders") or [])
        user["messageRules"] = [_rule_from_seed(r, i) for i, r in enumerate(raw.get("messageRules") or [])]
    methods = [{"@odata.type": PASSWORD_METHOD_TYPE, "id": PASSWORD_METHOD_ID, "password": None,
                "createdDateTime": None}]
    methods += [dict(m) for m in raw.get("authenticationMethods") or [] if m.get("id") != PASSWORD_METHOD_ID]
    for method in methods:
        if not str(method.get("@odata.type", "")).startswith("#microsoft.graph.") or not method.get("id"):
            raise SeedError("every authentication method needs an @odata.type (#microsoft.graph....) and an id")
    user["authenticationMethods"] = methods
    user["defaultMethodId"] = _default_method(raw, methods)
    return user


def _default_method(raw: dict[str, Any], methods: list[dict[str, Any]]) -> str | None:
    """The id of the user's default sign-in (MFA) method: the seed's ``defaultMethodId`` (null: none), else the first
    multifactor method listed. Graph v1.0 does not show it; it only decides which method cannot be deleted."""
    mfa = [m["id"] for m in methods if m["@odata.type"] not in NOT_DEFAULT_TYPES]
    if "defaultMethodId" not in raw:
        return mfa[0] if mfa else None
    wanted = raw["defaultMethodId"]
    if wanted is None:
        return None
    match = next((i for i in mfa if i.lower() == str(wanted).lower()), None)
    if match is None:
        raise SeedError(f"defaultMethodId {wanted!r} is not one of the user's multifactor methods")
    return match


def folder_id(user_id: str, name: str) -> str:
    """A stable, opaque mail folder id in the style of Exchange's base64 ids."""
    raw = uuid.uuid5(uuid.NAMESPACE_URL, f"folder/{user_id}/{name.lower()}").bytes
    return "AAMkAD" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _folders_from_seed(user_id: str, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    folders = [{"id": folder_id(user_id, name), "displayName": name, "wellKnownName": known}
               for known, name in WELL_KNOWN_FOLDERS]
    for raw in extra:
        if not raw.get("displayName"):
            raise SeedError("every extra mail folder needs a displayName")
        folders.append({"id": raw.get("id") or folder_id(user_id, raw["displayName"]), "displayName": raw["displayName"],
                        "wellKnownName": None})
    return folders


def _rule_from_seed(raw: dict[str, Any], index: int) -> dict[str, Any]:
    if not raw.get("id") or not raw.get("displayName"):
        raise SeedError("every inbox rule needs an id and a displayName")
    return {"id": raw["id"], "displayName": raw["displayName"], "sequence": int(raw.get("sequence", index + 1)),
            "isEnabled": bool(raw.get("isEnabled", True)), "hasError": False, "isReadOnly": False,
            "conditions": copy.deepcopy(raw.get("conditions") or {}), "actions": copy.deepcopy(raw.get("actions") or {}),
            "exceptions": copy.deepcopy(raw.get("exceptions") or {})}


def _app_from_seed(raw: dict[str, Any]) -> App:
    if "client_id" not in raw:
        raise SeedError("every app needs a client_id")
    return App(
        client_id=raw["client_id"].lower(),
        display_name=raw.get("display_name", "app"),
        secrets=list(raw.get("secrets") or []),
        certificates=[RegisteredCertificate.from_pem(p) for p in raw.get("certificates") or []],
        federated_credentials=[dict(f) for f in raw.get("federated_credentials") or []],
        graph_permissions=list(raw.get("graph_permissions") or []),
        exchange_permissions=list(raw.get("exchange_permissions") or []),
        directory_roles=list(raw.get("directory_roles") or []),
        service_principal_id=raw.get("service_principal_id") or str(uuid.uuid5(uuid.NAMESPACE_OID, raw["client_id"].lower())),
    )


def tenant_from_seed(raw: dict[str, Any]) -> Tenant:
    """Build one tenant from its seed dict."""
    if "id" not in raw:
        raise SeedError("every tenant needs an id")
    domains = list(raw.get("domains") or [])
    if not domains:
        raise SeedError("every tenant needs at least one domain")
    tenant = Tenant(
        id=raw["id"].lower(),
        name=raw.get("name", domains[0]),
        domains=domains,
        unblock_limit=int(raw.get("unblock_limit", 3)),
        apps={},
        users=[_user_from_seed(u, domains[0]) for u in raw.get("users") or []],
        tap_policy=tap_policy_from_seed(raw.get("temporary_access_pass")),
    )
    for app_raw in raw.get("apps") or []:
        app = _app_from_seed(app_raw)
        tenant.apps[app.client_id] = app
    tenant.index()
    for entry in raw.get("restricted") or []:
        address = entry["SenderAddress"]
        created = parse_datetime(entry.get("CreatedDatetime") or iso_seconds())
        tenant.restricted[address.lower()] = {
            "SenderAddress": address,
            "Reason": entry.get("Reason") or default_reason(),
            "CreatedDatetime": created,
            "ChangedDatetime": parse_datetime(entry["ChangedDatetime"]) if entry.get("ChangedDatetime") else created,
            "TemporaryBlock": bool(entry.get("TemporaryBlock", False)),
        }
        if entry.get("unblock_count"):
            tenant.unblock_counts[address.lower()] = int(entry["unblock_count"])
    return tenant


class State:
    """All tenants, resolvable by id or verified domain. Hold ``lock`` while reading or changing anything."""

    def __init__(self, seed: dict[str, Any]) -> None:
        self.lock = threading.RLock()
        self.seed = copy.deepcopy(seed)
        self.tenants: dict[str, Tenant] = {}
        self.domains: dict[str, Tenant] = {}
        for raw in seed.get("tenants") or []:
            tenant = tenant_from_seed(raw)
            if tenant.id in self.tenants:
                raise SeedError(f"duplicate tenant id {tenant.id}")
            self.tenants[tenant.id] = tenant
            for domain in tenant.domains:
                self.domains[domain.lower()] = tenant
        self.vaults: dict[str, KeyVault] = {}
        for raw_vault in seed.get("key_vaults") or []:
            self.add_vault(vault_from_seed(raw_vault, self))
        exchange = seed.get("exchange") or {}
        self.exchange_concurrency = int(exchange.get("concurrency_per_tenant", 8))
        self.exchange_budget = int(exchange.get("budget_per_10s", 400))
        # How failed cmdlets answer, in turn: the form of details[].message, and the status of a not-found.
        self.exchange_error_forms = [str(f) for f in exchange.get("error_forms") or ("pipe", "json")]
        self.exchange_not_found_statuses = [int(s) for s in exchange.get("not_found_statuses") or (404, 404, 500)]
        if set(self.exchange_error_forms) - {"pipe", "json", "adminapi_errors"} or set(self.exchange_not_found_statuses) - {400, 404, 500}:
            raise SeedError("exchange.error_forms takes pipe/json/adminapi_errors, exchange.not_found_statuses 400/404/500")

    def add_vault(self, vault: KeyVault) -> KeyVault:
        """Add ``vault``, or replace the tenant and role assignments of the vault of that name (its secrets stay)."""
        old = self.vaults.get(vault.name.lower())
        if old is not None:
            vault.secrets = old.secrets
        self.vaults[vault.name.lower()] = vault
        return vault

    def vault(self, name: str) -> KeyVault | None:
        """A vault by name, case-insensitive."""
        return self.vaults.get(name.lower())

    def resolve(self, ref: str) -> Tenant | None:
        """A tenant by id (GUID) or verified domain, case-insensitive."""
        key = ref.lower()
        return self.tenants.get(key) or self.domains.get(key)

    def view(self, tenant: Tenant) -> dict[str, Any]:
        """A JSON-ready snapshot for the control API: no password material, ever."""
        users = []
        for user in tenant.users:
            item = {k: copy.deepcopy(v) for k, v in user.items() if k != "mailbox"}
            item["passwordSetByGraph"] = user["id"] in tenant.passwords
            users.append(item)
        restricted = [
            {**entry, "CreatedDatetime": iso_precise(entry["CreatedDatetime"]), "ChangedDatetime": iso_precise(entry["ChangedDatetime"]),
             "unblock_count": tenant.unblock_counts.get(key, 0)}
            for key, entry in sorted(tenant.restricted.items())
        ]
        mailboxes = {u["userPrincipalName"]: dict(u["mailbox"]) for u in tenant.users if u.get("mailbox") is not None}
        return {
            "tenant": {"id": tenant.id, "name": tenant.name, "domains": list(tenant.domains), "unblock_limit": tenant.unblock_limit},
            "users": users,
            "restricted": restricted,
            "mailboxes": mailboxes,
            "unblock_counts": dict(tenant.unblock_counts),
        }
