"""Seeds: the standard test seed, the demo seed, and a generator of large seeds for benchmarks.

Users of the contoso test tenant and what each one is for:

- ``rob@contoso.com``: restricted; proxy alias ``smtp:robert@contoso.com``; mailbox forwards to ``smtp:exfil@evil.example``;
  inbox rules: ``..`` forwards everything to ``exfil@evil.example`` (attacker), ``Clean up`` moves replies about spam
  to RSS Feeds and marks them read (attacker), ``Move newsletters`` moves newsletters to his own folder (legitimate);
  authentication methods: password, a mobile phone (legitimate, undated as phone methods are in Graph), an
  Authenticator app registered in 2025 (legitimate) and one registered after ``RESTRICTED_AT`` (attacker).
- ``ann@contoso.com``: restricted, plain case.
- ``carl@contoso.com``: not restricted (nothing to do).
- ``dana@contoso.com``: restricted, synced from on-premises AD (password reset refused, 400).
- ``eve.admin@contoso.com``: restricted, holds Global Administrator (the main app lacks Privileged Authentication
  Administrator: password reset refused, 403).
- ``frank@contoso.onmicrosoft.com``: restricted under his mail ``frank@contoso.com`` (UPN differs from SMTP address).
- ``gina@contoso.com``: restricted, already unblocked ``unblock_limit`` times (removal refused: limit reached).
- ``breakglass@contoso.com``: not restricted (emergency account).
- ``ghost@contoso.com``: on the Restricted Users list with no user behind it.

The test and demo seeds also hold the key vault ``msp-vault`` (``VAULT_NAME``) in contoso, where the main app holds Key Vault
Secrets Officer, and every tenant the default Temporary Access Pass policy.
"""

from __future__ import annotations

import copy
import json
import random
import shlex
import uuid
from typing import Any

from .oidc import ISSUER_PLACEHOLDER
from .pki import thumbprints
from .state import PASSWORD_METHOD_ID, folder_id
from .testkeys import CONTOSO_CERT_KEY_PEM, CONTOSO_CERT_PEM, CONTOSO_EXPIRED_CERT_KEY_PEM, CONTOSO_EXPIRED_CERT_PEM

__all__ = [
    "CONTOSO_TENANT_ID", "CONTOSO_DOMAIN", "CONTOSO_INITIAL_DOMAIN", "CONTOSO_CLIENT_ID", "CONTOSO_SECRET",
    "CONTOSO_NOPERM_CLIENT_ID", "CONTOSO_NOPERM_SECRET", "CONTOSO_PRIVILEGED_CLIENT_ID", "CONTOSO_PRIVILEGED_SECRET",
    "CONTOSO_NO_EXCHANGE_CLIENT_ID", "CONTOSO_NO_EXCHANGE_SECRET",
    "CONTOSO_CERT_KEY_PEM", "CONTOSO_CERT_PEM", "CONTOSO_CERT_THUMBPRINT", "CONTOSO_CERT_SHA256",
    "CONTOSO_EXPIRED_CERT_KEY_PEM", "CONTOSO_EXPIRED_CERT_PEM", "CONTOSO_FEDERATED_ISSUER", "CONTOSO_FEDERATED_SUBJECT",
    "FEDERATED_AUDIENCE", "EMULATOR_OIDC_ISSUER", "CONTOSO_OIDC_SUBJECT", "CONTOSO_OIDC_REQUEST_TOKEN",
    "FABRIKAM_TENANT_ID", "FABRIKAM_DOMAIN", "FABRIKAM_CLIENT_ID", "FABRIKAM_SECRET",
    "NORTHWIND_TENANT_ID", "NORTHWIND_DOMAIN", "NORTHWIND_CLIENT_ID", "NORTHWIND_SECRET", "USER_IDS", "RESTRICTED_AT",
    "OLD_CHANGE", "UNBLOCK_LIMIT", "SECRETS", "EXFIL_ADDRESS", "ROB_FORWARD_RULE_ID", "ROB_FORWARD_RULE_NAME",
    "ROB_HIDE_RULE_ID", "ROB_HIDE_RULE_NAME", "ROB_NEWSLETTER_RULE_ID", "ROB_NEWSLETTER_RULE_NAME", "ROB_NEWSLETTER_FOLDER",
    "ROB_PHONE_METHOD_ID", "ROB_OLD_AUTHENTICATOR_ID", "ROB_OLD_AUTHENTICATOR_CREATED", "ROB_ATTACKER_AUTHENTICATOR_ID",
    "ROB_ATTACKER_AUTHENTICATOR_CREATED", "PASSWORD_METHOD_ID", "VAULT_NAME", "VAULT_ROLE", "test_seed", "demo_seed", "generate_seed",
]

CONTOSO_TENANT_ID = "6f1a9c3e-2b4d-4e8f-9a10-3c5d7e9f1b2a"
CONTOSO_DOMAIN = "contoso.com"
CONTOSO_INITIAL_DOMAIN = "contoso.onmicrosoft.com"
CONTOSO_CLIENT_ID = "3b7e1d42-8c5f-4a96-b1e3-5d8f2a4c6e10"
CONTOSO_SECRET = "emu-secret-contoso-7Qk9Xv2LmR4tWz8B"
# No Graph/Exchange permissions and no directory roles: every call gets 403.
CONTOSO_NOPERM_CLIENT_ID = "9d2c4f6a-1e3b-4c5d-8f7a-0b1c2d3e4f50"
CONTOSO_NOPERM_SECRET = "emu-secret-contoso-noperm-Hs3Pq8Zt"
# Like the main app plus Privileged Authentication Administrator: may reset admins' passwords.
CONTOSO_PRIVILEGED_CLIENT_ID = "c81f5a2e-4d3b-4b7a-9e6c-2a1d0f9e8b7c"
CONTOSO_PRIVILEGED_SECRET = "emu-secret-contoso-priv-Mv6Rn2Kd"
# Like the main app (Graph permissions, Exchange Administrator and User Administrator) but without the Exchange.ManageAsApp
# application permission: every Exchange Online call gets 403.
CONTOSO_NO_EXCHANGE_CLIENT_ID = "4e8a2c61-7b3d-4f59-a0c2-6d1e9b7f3a84"
CONTOSO_NO_EXCHANGE_SECRET = "emu-secret-contoso-noexo-Tq7Wb3Nc"
CONTOSO_CERT_THUMBPRINT, CONTOSO_CERT_SHA256 = thumbprints(CONTOSO_CERT_PEM)
CONTOSO_FEDERATED_ISSUER = "https://token.actions.githubusercontent.com"
CONTOSO_FEDERATED_SUBJECT = "repo:m365ops/remediation:ref:refs/heads/main"
FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
# The emulator's own OIDC issuer ("{base_url}" is the emulator's URL): its tokens are signed and checked against its JWKS.
EMULATOR_OIDC_ISSUER = ISSUER_PLACEHOLDER
CONTOSO_OIDC_SUBJECT = "repo:m365ops/remediation:environment:production"
# ACTIONS_ID_TOKEN_REQUEST_TOKEN of a seeded CI job whose tokens carry CONTOSO_OIDC_SUBJECT.
CONTOSO_OIDC_REQUEST_TOKEN = "emu-actions-request-token-contoso-Vn4Qs8Lr"

FABRIKAM_TENANT_ID = "0c4b8e2a-7d1f-4a3c-b5e9-8f2d6a1c3e70"
FABRIKAM_DOMAIN = "fabrikam.com"
FABRIKAM_CLIENT_ID = "5e2d9b71-3a4c-4f8e-a6b2-9c1d7e3f5a20"
FABRIKAM_SECRET = "emu-secret-fabrikam-Jw5Tc9Yh3Np"

NORTHWIND_TENANT_ID = "a3d5f7b9-1c2e-4d6f-8a0b-2c4e6f8a0b1c"
NORTHWIND_DOMAIN = "northwind.com"
NORTHWIND_CLIENT_ID = "7f9a1b3c-5d6e-4f80-9a1b-3c5d7e9f1a30"
NORTHWIND_SECRET = "emu-secret-northwind-Bq4Lx7Wm2Gs"

SECRETS = (CONTOSO_SECRET, CONTOSO_NOPERM_SECRET, CONTOSO_PRIVILEGED_SECRET, CONTOSO_NO_EXCHANGE_SECRET, FABRIKAM_SECRET,
           NORTHWIND_SECRET)
RESTRICTED_AT = "2026-11-20T08:00:00Z"
OLD_CHANGE = "2026-06-01T00:00:00Z"
UNBLOCK_LIMIT = 3

# Rob's mailbox after the compromise: what the containment modules find and clean.
EXFIL_ADDRESS = "exfil@evil.example"
ROB_FORWARD_RULE_ID = "AQAAAJ5dZp8="
ROB_FORWARD_RULE_NAME = ".."
ROB_HIDE_RULE_ID = "AQAAAJ5dZqA="
ROB_HIDE_RULE_NAME = "Clean up"
ROB_NEWSLETTER_RULE_ID = "AQAAAJ5dZp4="
ROB_NEWSLETTER_RULE_NAME = "Move newsletters"
ROB_NEWSLETTER_FOLDER = "Newsletters"
# Graph's fixed id of a user's mobile phone method.
ROB_PHONE_METHOD_ID = "3179e48a-750b-4051-897c-87b9720928f7"
ROB_OLD_AUTHENTICATOR_ID = "6f3c2a1b-7d4e-4b8a-9c0d-1e2f3a4b5c60"
ROB_OLD_AUTHENTICATOR_CREATED = "2025-03-04T10:15:00Z"
ROB_ATTACKER_AUTHENTICATOR_ID = "b41e8c7d-2a9f-4e3b-8d6c-5f7a0b1c2d90"
ROB_ATTACKER_AUTHENTICATOR_CREATED = "2026-11-20T09:12:44Z"

# Object ids by UPN.
USER_IDS = {
    "rob@contoso.com": "1a0b2c3d-0001-4e5f-8a9b-0c1d2e3f4a01",
    "ann@contoso.com": "1a0b2c3d-0002-4e5f-8a9b-0c1d2e3f4a02",
    "carl@contoso.com": "1a0b2c3d-0003-4e5f-8a9b-0c1d2e3f4a03",
    "dana@contoso.com": "1a0b2c3d-0004-4e5f-8a9b-0c1d2e3f4a04",
    "eve.admin@contoso.com": "1a0b2c3d-0005-4e5f-8a9b-0c1d2e3f4a05",
    "frank@contoso.onmicrosoft.com": "1a0b2c3d-0006-4e5f-8a9b-0c1d2e3f4a06",
    "gina@contoso.com": "1a0b2c3d-0007-4e5f-8a9b-0c1d2e3f4a07",
    "breakglass@contoso.com": "1a0b2c3d-0008-4e5f-8a9b-0c1d2e3f4a08",
    "alice@fabrikam.com": "2b1c3d4e-0001-4f5a-9b8c-1d2e3f4a5b01",
    "bert@fabrikam.com": "2b1c3d4e-0002-4f5a-9b8c-1d2e3f4a5b02",
    "carol@fabrikam.com": "2b1c3d4e-0003-4f5a-9b8c-1d2e3f4a5b03",
    "nina@northwind.com": "3c2d4e5f-0001-4a6b-8c9d-2e3f4a5b6c01",
    "oscar@northwind.com": "3c2d4e5f-0002-4a6b-8c9d-2e3f4a5b6c02",
}

GRAPH_PERMISSIONS = ["User.Read.All", "User.ReadWrite.All", "User-PasswordProfile.ReadWrite.All", "User.RevokeSessions.All",
                     "User.EnableDisableAccount.All", "MailboxSettings.ReadWrite", "Mail.ReadBasic.All",
                     "UserAuthenticationMethod.ReadWrite.All"]
# The apps of the test and demo seeds also read the Temporary Access Pass policy (generated seeds keep GRAPH_PERMISSIONS).
TEST_GRAPH_PERMISSIONS = GRAPH_PERMISSIONS + ["Policy.Read.All"]
# The test and demo seeds' key vault, in contoso (a managed service provider would keep it in a tenant of its own).
VAULT_NAME = "msp-vault"
VAULT_ROLE = "Key Vault Secrets Officer"
EXCHANGE_PERMISSIONS = ["Exchange.ManageAsApp"]
OUTBOUND_SPAM_REASON = "OutboundSpamLast24Hours=412;OutboundMailLast24Hours=1520;OutboundSpamPercent=27"
EXTERNAL_LIMIT_REASON = "ExceedingLimitType=External;InternalRecipientCountToday=0;ExternalRecipientCountToday=1520"


def _user(upn: str, display: str, *, mail: str | None = None, aliases: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    mail = mail or upn
    user = {
        "id": USER_IDS[upn], "userPrincipalName": upn, "displayName": display,
        "givenName": display.split()[0], "surname": display.split()[-1] if " " in display else None,
        "mail": mail, "proxyAddresses": [f"SMTP:{mail}"] + [f"smtp:{a}" for a in aliases],
        "accountEnabled": True, "onPremisesSyncEnabled": None,
        "lastPasswordChangeDateTime": OLD_CHANGE, "signInSessionsValidFromDateTime": OLD_CHANGE,
        "adminRoles": [],
        "mailbox": {"ForwardingSmtpAddress": None, "ForwardingAddress": None, "DeliverToMailboxAndForward": False},
    }
    user.update(extra)
    return user


def _restricted(address: str, reason: str = OUTBOUND_SPAM_REASON, count: int = 0) -> dict[str, Any]:
    return {"SenderAddress": address, "Reason": reason, "CreatedDatetime": RESTRICTED_AT, "ChangedDatetime": RESTRICTED_AT,
            "TemporaryBlock": False, "unblock_count": count}


def _app(client_id: str, secret: str, name: str, roles: list[str], *, certificates: list[str] | None = None,
         federated: list[dict[str, Any]] | None = None, permissions: bool = True, graph: list[str] | None = None) -> dict[str, Any]:
    return {
        "client_id": client_id, "display_name": name, "secrets": [secret],
        "certificates": certificates or [], "federated_credentials": federated or [],
        "graph_permissions": list(graph or GRAPH_PERMISSIONS) if permissions else [],
        "exchange_permissions": list(EXCHANGE_PERMISSIONS) if permissions else [],
        "directory_roles": roles,
    }


def _recipient(address: str, name: str | None = None) -> dict[str, Any]:
    return {"emailAddress": {"name": name or address, "address": address}}


def _rob_containment() -> dict[str, Any]:
    """What an attacker left in rob's mailbox and account, next to his own rule and methods."""
    folder = folder_id(USER_IDS["rob@contoso.com"], ROB_NEWSLETTER_FOLDER)
    rss = folder_id(USER_IDS["rob@contoso.com"], "RSS Feeds")
    authenticator = "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"
    return {
        "mailFolders": [{"displayName": ROB_NEWSLETTER_FOLDER}],
        "messageRules": [
            {"id": ROB_NEWSLETTER_RULE_ID, "displayName": ROB_NEWSLETTER_RULE_NAME, "sequence": 1,
             "conditions": {"senderContains": ["newsletter@"]}, "actions": {"moveToFolder": folder, "stopProcessingRules": True}},
            {"id": ROB_FORWARD_RULE_ID, "displayName": ROB_FORWARD_RULE_NAME, "sequence": 2,
             "actions": {"forwardTo": [_recipient(EXFIL_ADDRESS, "exfil")], "stopProcessingRules": False}},
            {"id": ROB_HIDE_RULE_ID, "displayName": ROB_HIDE_RULE_NAME, "sequence": 3,
             "conditions": {"bodyOrSubjectContains": ["spam", "hacked", "undeliverable"]},
             "actions": {"moveToFolder": rss, "markAsRead": True, "stopProcessingRules": True}},
        ],
        "authenticationMethods": [
            {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": ROB_PHONE_METHOD_ID,
             "phoneNumber": "+1 2065550100", "phoneType": "mobile", "smsSignInState": "notAllowedByPolicy"},
            {"@odata.type": authenticator, "id": ROB_OLD_AUTHENTICATOR_ID, "displayName": "Rob's iPhone",
             "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.8.7", "createdDateTime": ROB_OLD_AUTHENTICATOR_CREATED},
            {"@odata.type": authenticator, "id": ROB_ATTACKER_AUTHENTICATOR_ID, "displayName": "SM-G998B",
             "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.2401.0119", "createdDateTime": ROB_ATTACKER_AUTHENTICATOR_CREATED},
        ],
    }


def _contoso() -> dict[str, Any]:
    main_app = _app(CONTOSO_CLIENT_ID, CONTOSO_SECRET, "m365ops-remediation", ["Exchange Administrator", "User Administrator"],
                    certificates=[CONTOSO_CERT_PEM, CONTOSO_EXPIRED_CERT_PEM], graph=TEST_GRAPH_PERMISSIONS,
                    federated=[{"issuer": CONTOSO_FEDERATED_ISSUER, "subject": CONTOSO_FEDERATED_SUBJECT, "audience": FEDERATED_AUDIENCE},
                               {"issuer": EMULATOR_OIDC_ISSUER, "subject": CONTOSO_OIDC_SUBJECT, "audience": FEDERATED_AUDIENCE}])
    return {
        "id": CONTOSO_TENANT_ID, "name": "Contoso", "domains": [CONTOSO_DOMAIN, CONTOSO_INITIAL_DOMAIN],
        "unblock_limit": UNBLOCK_LIMIT,
        "apps": [
            main_app,
            _app(CONTOSO_NOPERM_CLIENT_ID, CONTOSO_NOPERM_SECRET, "no-permissions", [], permissions=False),
            _app(CONTOSO_PRIVILEGED_CLIENT_ID, CONTOSO_PRIVILEGED_SECRET, "m365ops-remediation-privileged",
                 ["Exchange Administrator", "User Administrator", "Privileged Authentication Administrator"], graph=TEST_GRAPH_PERMISSIONS),
            dict(_app(CONTOSO_NO_EXCHANGE_CLIENT_ID, CONTOSO_NO_EXCHANGE_SECRET, "m365ops-remediation-no-exchange",
                      ["Exchange Administrator", "User Administrator"], graph=TEST_GRAPH_PERMISSIONS), exchange_permissions=[]),
        ],
        "users": [
            _user("rob@contoso.com", "Rob Miller", aliases=("robert@contoso.com",),
                  mailbox={"ForwardingSmtpAddress": "smtp:exfil@evil.example", "ForwardingAddress": None, "DeliverToMailboxAndForward": True},
                  **_rob_containment()),
            _user("ann@contoso.com", "Ann Lee"),
            _user("carl@contoso.com", "Carl Berg"),
            _user("dana@contoso.com", "Dana White", onPremisesSyncEnabled=True),
            _user("eve.admin@contoso.com", "Eve Admin", adminRoles=["Global Administrator"]),
            _user("frank@contoso.onmicrosoft.com", "Frank Olsen", mail="frank@contoso.com"),
            _user("gina@contoso.com", "Gina Ross"),
            _user("breakglass@contoso.com", "Break Glass"),
        ],
        "restricted": [
            _restricted("rob@contoso.com"),
            _restricted("ann@contoso.com", EXTERNAL_LIMIT_REASON),
            _restricted("dana@contoso.com"),
            _restricted("eve.admin@contoso.com"),
            _restricted("frank@contoso.com"),
            _restricted("gina@contoso.com", count=UNBLOCK_LIMIT),
            _restricted("ghost@contoso.com"),
        ],
    }


def _small_tenant(tenant_id: str, name: str, domain: str, client_id: str, secret: str, users: list[tuple[str, str]],
                  restricted: list[str]) -> dict[str, Any]:
    return {
        "id": tenant_id, "name": name, "domains": [domain, domain.split(".")[0] + ".onmicrosoft.com"],
        "unblock_limit": UNBLOCK_LIMIT,
        "apps": [_app(client_id, secret, "m365ops-remediation", ["Exchange Administrator", "User Administrator"], graph=TEST_GRAPH_PERMISSIONS)],
        "users": [_user(upn, display) for upn, display in users],
        "restricted": [_restricted(a) for a in restricted],
    }


def test_seed() -> dict[str, Any]:
    """The standard seed of the unit and integration tests: contoso, fabrikam and northwind."""
    return {
        "tenants": [
            _contoso(),
            _small_tenant(FABRIKAM_TENANT_ID, "Fabrikam", FABRIKAM_DOMAIN, FABRIKAM_CLIENT_ID, FABRIKAM_SECRET,
                          [("alice@fabrikam.com", "Alice Ng"), ("bert@fabrikam.com", "Bert Kim"), ("carol@fabrikam.com", "Carol Diaz")],
                          ["alice@fabrikam.com", "bert@fabrikam.com"]),
            _small_tenant(NORTHWIND_TENANT_ID, "Northwind", NORTHWIND_DOMAIN, NORTHWIND_CLIENT_ID, NORTHWIND_SECRET,
                          [("nina@northwind.com", "Nina Park"), ("oscar@northwind.com", "Oscar Wu")],
                          ["nina@northwind.com", "oscar@northwind.com"]),
        ],
        "faults": [],
        "exchange": {"concurrency_per_tenant": 8, "budget_per_10s": 400},
        "oidc": {"request_tokens": {CONTOSO_OIDC_REQUEST_TOKEN: {"subject": CONTOSO_OIDC_SUBJECT, "lifetime": 300}}},
        "key_vaults": [{"name": VAULT_NAME, "tenant": CONTOSO_TENANT_ID,
                        "role_assignments": [{"client_id": CONTOSO_CLIENT_ID, "role": VAULT_ROLE}]}],
    }


def demo_seed() -> dict[str, Any]:
    """The README demo: contoso only, where rob@contoso.com is blocked for sending spam."""
    seed = test_seed()
    seed["tenants"] = [copy.deepcopy(seed["tenants"][0])]
    return seed


def generate_seed(tenants: int, users: int, restricted: int, rng_seed: int = 0, *, seed: int | None = None,
                  synced_fraction: float = 0.0, admin_fraction: float = 0.0, unblock_limit: int = UNBLOCK_LIMIT) -> dict[str, Any]:
    """A large seed: ``tenants`` tenants of ``users`` users each, ``restricted`` of them on the Restricted Users list.

    Deterministic for a given ``rng_seed`` (``seed`` is an alias). Tenant ``i`` has domain ``tenant{i}.example``, one app
    with secret ``emu-secret-gen-{i}-...`` (read it from the seed), users ``user{j}@tenant{i}.example``.
    """
    rng = random.Random(rng_seed if seed is None else seed)
    namespace = uuid.UUID(int=rng.getrandbits(128))
    restricted = min(restricted, users)
    out = []
    for t in range(tenants):
        domain = f"tenant{t}.example"
        tenant_id = str(uuid.uuid5(namespace, f"tenant:{t}"))
        app = _app(str(uuid.uuid5(namespace, f"app:{t}")), f"emu-secret-gen-{t}-{rng.getrandbits(64):016x}", "m365ops-remediation",
                   ["Exchange Administrator", "User Administrator"])
        user_list = []
        for j in range(users):
            upn = f"user{j}@{domain}"
            proxies = [f"SMTP:{upn}"]
            if j % 5 == 0:
                proxies.append(f"smtp:alias{j}@{domain}")
            user_list.append({
                "id": str(uuid.uuid5(namespace, f"user:{t}:{j}")), "userPrincipalName": upn, "displayName": f"User {j}",
                "mail": upn, "proxyAddresses": proxies, "accountEnabled": True,
                "onPremisesSyncEnabled": True if rng.random() < synced_fraction else None,
                "lastPasswordChangeDateTime": OLD_CHANGE, "signInSessionsValidFromDateTime": OLD_CHANGE,
                "adminRoles": ["Global Administrator"] if rng.random() < admin_fraction else [],
                "mailbox": {"ForwardingSmtpAddress": None, "ForwardingAddress": None, "DeliverToMailboxAndForward": False},
            })
        chosen = sorted(rng.sample(range(users), restricted))
        out.append({
            "id": tenant_id, "name": f"Tenant {t}", "domains": [domain, f"tenant{t}.onmicrosoft.com"],
            "unblock_limit": unblock_limit, "apps": [app], "users": user_list,
            "restricted": [_restricted(f"user{j}@{domain}") for j in chosen],
        })
    return {"tenants": out, "faults": [], "exchange": {"concurrency_per_tenant": 8, "budget_per_10s": 400}}


# The multi-tenant app of ``generate --shared-app``: what a managed service provider registers once in its own tenant
# and has consented in every customer tenant, so one client id and one secret reach them all.
SHARED_APP_NAME = "m365ops-remediation-msp"


def generated_shared_app(rng_seed: int = 0) -> dict[str, Any]:
    """The shared app entry of a generated seed: the same client id and secret for a given ``rng_seed``.

    Drawn from a generator of its own, so ``generate_seed`` gives the same tenants, users and per-tenant apps as without it.
    """
    rng = random.Random(f"shared-app:{rng_seed}")
    client_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    secret = f"emu-secret-gen-shared-{rng.getrandbits(64):016x}"
    return _app(client_id, secret, SHARED_APP_NAME, ["Exchange Administrator", "User Administrator"])


def with_shared_app(seed: dict[str, Any], rng_seed: int = 0) -> dict[str, Any]:
    """``seed`` (from ``generate_seed``) where every tenant's only app is the shared app of ``generated_shared_app``.

    The tenants are new dicts; their users and lists are those of ``seed`` (not copied).
    """
    app = generated_shared_app(rng_seed)
    return {**seed, "tenants": [{**tenant, "apps": [copy.deepcopy(app)]} for tenant in seed["tenants"]]}


def generated_host_name(tenant: dict[str, Any]) -> str:
    """The inventory host of a generated tenant: its domain's first label (``tenant0`` for ``tenant0.example``)."""
    return tenant["domains"][0].split(".")[0]


def generated_inventory(seed: dict[str, Any], *, shared_app: bool, users: bool = False) -> str:
    """An Ansible YAML inventory of a generated seed's tenants: group ``m365_tenants``, one host per tenant.

    With ``shared_app`` each host has only ``m365_tenant_id`` (the app's client id and secret come from the environment,
    as an AWX credential injects them); otherwise also its own app's ``m365_client_id`` and ``m365_client_secret``.
    With ``users``, each host names the accounts on its tenant's Restricted Users list in ``unblock_email_users``.
    """
    lines = ["---", "# The tenants of an m365emu generated seed, for the Microsoft 365 emulator only:",
             "# every id and secret here is the emulator's, not a real one."]
    if shared_app:
        lines += ["# One multi-tenant app for all of them: its client id and secret go in AZURE_CLIENT_ID and AZURE_CLIENT_SECRET."]
    lines += ["m365_tenants:", "  hosts:"]
    for tenant in seed["tenants"]:
        # JSON strings are YAML scalars: quoted, never read as numbers or booleans.
        lines += [f"    {generated_host_name(tenant)}:", f"      m365_tenant_id: {json.dumps(tenant['id'])}"]
        if not shared_app:
            app = tenant["apps"][0]
            lines += [f"      m365_client_id: {json.dumps(app['client_id'])}", f"      m365_client_secret: {json.dumps(app['secrets'][0])}"]
        if users:
            lines += ["      unblock_email_users:"] + [f"        - {json.dumps(entry['SenderAddress'])}" for entry in tenant["restricted"]]
    return "\n".join(lines) + "\n"


def generated_credentials(app: dict[str, Any]) -> str:
    """A shell file exporting the shared app's AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (what an AWX credential injects)."""
    return ("# The emulator's shared app (m365emu generate --shared-app); not a real secret.\n"
            f"export AZURE_CLIENT_ID={shlex.quote(app['client_id'])} AZURE_CLIENT_SECRET={shlex.quote(app['secrets'][0])}\n")
