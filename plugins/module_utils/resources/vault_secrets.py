# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The secrets that hand a user's new credential over through Azure Key Vault: one secret per tenant and user.

A secret's name is derived from the tenant and the user (Key Vault's rule: 1 to 127 of ``0-9a-zA-Z-``), readable
and without collisions: two users whose addresses differ only in characters Key Vault does not allow still get
two names, through a short hash of the exact tenant and address. Each run adds a version; its tags say the tenant,
the user, the run, when it was set, what it holds and its status (``pending`` before the reset, then ``set``,
``unknown`` or ``withdrawn``). The value is never read back.
"""

from __future__ import annotations

import hashlib
import re
import typing as t
from datetime import datetime, timedelta, timezone

from ansible_collections.m365ops.remediation.plugins.module_utils.key_vault import KeyVaultClient, version_of

NAME_PATTERN = re.compile(r'^[0-9a-zA-Z-]{1,127}$')
CONTENT_TYPE = 'text/plain'
# What a pending entry holds when the credential itself comes later (a Temporary Access Pass is made by Entra ID
# after the reset): no secret, only words for whoever opens the secret before it is settled.
PLACEHOLDER = 'pending: the credential follows once it is issued'
MANAGED_BY = 'm365ops.remediation'


def secret_name(tenant: str, user: str, prefix: str = 'm365') -> str:
    """The secret's name for a user of a tenant: ``{prefix}-{tenant}-{address}-{hash}``, at most 127 characters.

    The tenant and the address keep their letters and digits (every other character becomes ``-``); the hash of
    the exact (lower-case) tenant and address tells apart the names that would otherwise collide.
    """
    tenant_key, user_key = str(tenant or '').strip().lower(), str(user or '').strip().lower()
    digest = hashlib.sha256(('%s\n%s' % (tenant_key, user_key)).encode('utf-8')).hexdigest()[:12]

    def part(text: str) -> str:
        return re.sub(r'-{2,}', '-', re.sub(r'[^0-9a-z]', '-', text)).strip('-')

    head = '-'.join(p for p in (part(prefix), part(tenant_key)) if p)
    room = 127 - len(head) - len(digest) - 2
    address = part(user_key)[:max(room, 0)].strip('-')
    name = '-'.join(p for p in (head, address, digest) if p)
    return name


def valid_prefix(prefix: str) -> bool:
    """Whether a name prefix keeps names within Key Vault's rule (letters, digits and ``-``, at most 40)."""
    return bool(re.match(r'^[0-9a-zA-Z-]{1,40}$', prefix or ''))


def tags(tenant: str, user: str, run: str | None, kind: str, status: str, when: datetime) -> dict[str, str]:
    """A version's tags: who, which run, when, what and its status (never the value)."""
    found = {
        'tenant': str(tenant or ''),
        'user': str(user or ''),
        'credential': kind.replace('_', '-'),
        'status': status,
        'set': when.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'managed-by': MANAGED_BY,
    }
    if run:
        found['run'] = str(run)
    return {key: value[:256] for key, value in found.items()}


class VaultSecrets:
    """The hand-over secrets of one vault, through a :class:`KeyVaultClient`."""

    def __init__(self, client: KeyVaultClient, lifetime_days: int) -> None:
        self.client = client
        self.lifetime = timedelta(days=lifetime_days)

    @property
    def url(self) -> str:
        """The vault's URL."""
        return self.client.endpoint

    def put(self, name: str, value: str, version_tags: dict[str, str], now: datetime) -> str | None:
        """Set a new version (enabled, expiring after the lifetime); its version."""
        body = {
            'value': value,
            'contentType': CONTENT_TYPE,
            'attributes': {'enabled': True, 'exp': int((now + self.lifetime).timestamp())},
            'tags': version_tags,
        }
        return version_of(self.client.set_secret(name, body).get('id'))

    def settle(self, name: str, version: str, version_tags: dict[str, str], enabled: bool = True) -> None:
        """Rewrite a version's tags (its status), and disable it when it is withdrawn."""
        body: dict[str, t.Any] = {'tags': version_tags}
        if not enabled:
            body['attributes'] = {'enabled': False}
        self.client.update_secret(name, version, body)

    def probe(self) -> None:
        """Read one secret's name (never a value): the vault answers, and the token and the app's role let it list."""
        self.client.list_secrets(1)
