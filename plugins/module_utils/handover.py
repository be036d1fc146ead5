# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where a user's new credential goes: the hand-over targets of :mod:`user_password`.

Every target is written ahead: it accepts the new credential, marked ``pending``, before the reset is sent, so that
no password is set that nobody can read back. A user whose entry the target refuses is not reset. After the reset
the entry is settled: ``set``, or ``unknown`` when the reset may or may not have been applied (kept, never lost),
or ``withdrawn`` when it certainly failed. A Temporary Access Pass is made by Entra ID after the reset: its pending
entry holds no secret, and the pass replaces it once issued.

- :class:`FileTarget`: one JSON file per tenant, mode 0600, written whole and atomically;
- :class:`KeyVaultTarget`: one Azure Key Vault secret per tenant and user, a version per run;
- :class:`HeldTarget`: nothing written; the credentials stay in memory for the task's result (``return_passwords``).

An :class:`Entry` never carries its value into a result: :meth:`Entry.record` says where it went.
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass, field

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils import secure_file
from ansible_collections.m365ops.remediation.plugins.module_utils import vault_text
from ansible_collections.m365ops.remediation.plugins.module_utils.concurrency import run_concurrently
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import vault_secrets

PASSWORD = 'password'
ACCESS_PASS = 'temporary_access_pass'
SETTLED = ('set', 'unknown')


@dataclass
class Entry:
    """One user's credential on its way: ``value`` is None while a pass is still to be issued."""

    ref: str
    upn: str
    kind: str = PASSWORD
    value: str | None = None
    status: str = 'pending'
    where: dict[str, t.Any] = field(default_factory=dict)

    def record(self) -> dict[str, t.Any]:
        """Where the credential went, for the result and the reports: never the value."""
        return dict(self.where, kind=self.kind, status=self.status)


class FileTarget:
    """A JSON file of the tenant's new credentials by user principal name, readable by its owner only.

    It holds the tenant's GUID; a file of another tenant is refused before any reset.
    """

    name = 'file'
    label = 'the password file'

    def __init__(self, path: str, tenant_guid: t.Callable[[], str | None], vault_secret: bytes | None = None,
                 vault_id: str | None = None) -> None:
        self.path = path
        self.tenant_guid = tenant_guid
        # With a vault secret the file is kept in Ansible Vault's format (vault_text), never in clear.
        self.encrypt = (lambda text: vault_text.encrypt(text, vault_secret, vault_id)) if vault_secret else None
        self.decrypt = (lambda text: vault_text.decrypt(text, vault_secret)) if vault_secret else None

    def check(self, check_mode: bool) -> None:
        """Refuse an unsafe file or folder before any request (a missing folder is made, except in check mode)."""
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            if not check_mode:
                secure_file.make_private_folder(folder)
            if os.path.isdir(folder):
                secure_file.check_target(self.path)
        except (M365Error, OSError) as error:
            said = error.message if isinstance(error, M365Error) else str(error)
            raise M365Error('password_file: %s' % said, service='file', code='unsafe_file') from None

    def write(self, entries: t.Sequence[Entry]) -> dict[str, M365Error]:
        """Merge the entries into the file, all at once; a failure is every entry's."""
        try:
            document = secure_file.read_json(self.path, self.decrypt) or {}
            tenant_id = self.tenant_guid()
            if document.get('tenant_id') and tenant_id and str(document['tenant_id']).lower() != str(tenant_id).lower():
                raise M365Error('password_file %s holds the passwords of tenant %s, not of this tenant (%s): give each tenant a '
                                'password file of its own' % (self.path, document['tenant_id'], tenant_id),
                                service='file', code='other_tenant')
            document['tenant_id'] = tenant_id
            users = document.setdefault('users', {})
            stamp = rem.isoformat(rem.utcnow())
            for entry in entries:
                if entry.status == 'withdrawn':
                    if users.get(entry.upn, {}).get('status') == 'pending':
                        users.pop(entry.upn)
                else:
                    users[entry.upn] = {entry.kind: entry.value, 'status': entry.status, 'time': stamp}
                entry.where = dict(target=self.name, path=self.path)
            secure_file.write_json(self.path, document, self.encrypt)
        except (M365Error, OSError) as error:
            found = error if isinstance(error, M365Error) else M365Error(
                'password_file %s: %s' % (self.path, error), service='file', code='write_failed')
            return {entry.ref: found for entry in entries}
        return {}


class KeyVaultTarget:
    """One Key Vault secret per tenant and user (:mod:`resources.vault_secrets`); each write a version.

    A pending version holds the password (or, for a pass, no secret at all); settling it rewrites its tags, or adds
    the version that holds the pass. A withdrawn version is disabled. The first write goes alone: a vault that
    refuses the app (401, 403) refuses every user, without a request per user.
    """

    name = 'key_vault'
    label = 'Key Vault'

    def __init__(self, secrets: vault_secrets.VaultSecrets, tenant: t.Callable[[], str | None], run: str | None,
                 max_workers: int = 8) -> None:
        self.secrets = secrets
        self.tenant = tenant
        self.run = run
        self.max_workers = max_workers
        # Per user: the version written ahead and whether it holds the credential itself.
        self.versions: dict[str, tuple[str | None, bool]] = {}

    def check(self, check_mode: bool) -> None:
        """Nothing to check before the first request: the vault answers for itself."""
        del check_mode

    def probe(self) -> None:
        """Whether the vault answers this app (a read, for check mode): raises the vault's refusal."""
        self.secrets.probe()

    def _write_one(self, entry: Entry, tenant: str) -> None:
        name = vault_secrets.secret_name(tenant, entry.upn)
        now = rem.utcnow()
        tags = vault_secrets.tags(tenant, entry.upn, self.run, entry.kind, entry.status, now)
        version, holds_value = self.versions.get(entry.ref, (None, False))
        if entry.status == 'withdrawn':
            if version:
                self.secrets.settle(name, version, tags, enabled=False)
        elif entry.status == 'pending' or not version or (entry.value is not None and not holds_value):
            written = self.secrets.put(name, entry.value if entry.value is not None else vault_secrets.PLACEHOLDER, tags, now)
            if entry.status == 'pending':
                self.versions[entry.ref] = (written, entry.value is not None)
            version = written
        else:
            self.secrets.settle(name, version, tags)
        entry.where = dict(target=self.name, vault=self.secrets.url, secret=name, version=version)

    def write(self, entries: t.Sequence[Entry]) -> dict[str, M365Error]:
        """Write every entry (at most ``max_workers`` at once); the error per user that failed."""
        errors: dict[str, M365Error] = {}
        rest = list(entries)
        if not rest:
            return errors
        try:
            tenant = self.tenant() or ''
        except M365Error as error:
            return {entry.ref: error for entry in rest}

        def write_one(entry: Entry) -> None:
            self._write_one(entry, tenant)

        first = run_concurrently(write_one, rest[:1], 1)[0][1]
        if isinstance(first, M365Error):
            errors[rest[0].ref] = first
            if first.status in (401, 403):
                return {entry.ref: first for entry in rest}
        for entry, outcome in run_concurrently(write_one, rest[1:], self.max_workers):
            if isinstance(outcome, M365Error):
                errors[entry.ref] = outcome
        return errors


class HeldTarget:
    """Nothing written anywhere: the new credentials go back in the task's result (which must set ``no_log``)."""

    name = 'result'
    label = "the task's result"

    def check(self, check_mode: bool) -> None:
        """Nothing to check."""
        del check_mode

    def write(self, entries: t.Sequence[Entry]) -> dict[str, M365Error]:
        """Nothing to write."""
        for entry in entries:
            entry.where = dict(target=self.name)
        return {}
