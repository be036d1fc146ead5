"""Fixtures of the resource tests: seeded users as targets, and the accounts some tests need beyond the standard seed."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Target

TENANT = seeds.CONTOSO_TENANT_ID

# A guest account: Entra ID names it <address with _ for @>#EXT#@<initial domain>, and it has no Exchange Online mailbox.
GUEST_UPN = "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com"
GUEST_ID = "1a0b2c3d-0009-4e5f-8a9b-0c1d2e3f4a09"
GUEST_MAIL = "ann@fabrikam.example"
# An alias two users share (Exchange forbids it; a directory synchronised from elsewhere may hold it all the same).
SHARED_ALIAS = "sales@contoso.com"


@pytest.fixture
def target(emulator):
    """``target(upn, ref=None)``: the seeded user as a :class:`Target`, taken from the emulator's state (no request)."""
    def make(upn: str, ref: str | None = None) -> Target:
        users = {u["userPrincipalName"]: u for u in emulator.state(TENANT)["users"]}
        return Target(ref or upn, users[upn])
    return make


@pytest.fixture
def extended(emulator):
    """The standard seed plus a guest without a mailbox, and an alias that ann and carl share."""
    seed = seeds.test_seed()
    contoso = seed["tenants"][0]
    guest = copy.deepcopy(next(u for u in contoso["users"] if u["userPrincipalName"] == "carl@contoso.com"))
    guest.update(id=GUEST_ID, userPrincipalName=GUEST_UPN, displayName="Ann (Fabrikam)", mail=GUEST_MAIL,
                 proxyAddresses=["SMTP:" + GUEST_MAIL], userType="Guest", mailbox=None)
    contoso["users"].append(guest)
    for user in contoso["users"]:
        if user["userPrincipalName"] in ("ann@contoso.com", "carl@contoso.com"):
            user["proxyAddresses"].append("smtp:" + SHARED_ALIAS)
    emulator.reset(seed)
    return SimpleNamespace(guest_upn=GUEST_UPN, guest_id=GUEST_ID, guest_mail=GUEST_MAIL, shared_alias=SHARED_ALIAS)
