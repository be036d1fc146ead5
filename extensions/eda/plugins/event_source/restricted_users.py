# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Event source ``m365ops.remediation.restricted_users``: new entries on Restricted Users lists.

Polls the Restricted Users list (``Get-BlockedSenderAddress``) of each configured tenant through the
collection's client core and puts one event on the queue per newly restricted account. What was emitted
is remembered by address and block time in a small state file (JSON, mode 0600, replaced atomically), so
a restart emits nothing twice; an address blocked again later has a new block time and is emitted again.
A tenant that fails (bad credentials, throttling, service down) gets an error event and is polled again
after a growing pause; the other tenants go on. The source only reads: the app it signs in as needs
read-only Exchange rights (see docs/event-driven.md).

Arguments (all optional)::

    tenants:            list of tenants; each takes ``name`` (the inventory host the event is for, default
                        ``localhost``) and any of the collection's connection options, as the modules take
                        them (doc_fragments/auth.py): ``tenant_id``, ``client_id``, ``client_secret``,
                        ``client_certificate_path``, ``client_certificate_password``, ``federated_token_file``,
                        ``federated_token``, ``federated_token_request_url``, ``federated_token_request_token``,
                        ``federated_token_audience``, ``access_token``, ``authority_host``, ``graph_endpoint``,
                        ``exchange_endpoint``, ``ca_bundle``, ``request_timeout``, ``max_retries``,
                        ``max_retry_wait``, ``environment_tenant``. Options not given come from the modules'
                        environment variables (AZURE_TENANT_ID unless ``environment_tenant: refuse``,
                        AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, ..., M365_EXCHANGE_ENDPOINT, M365_CA_BUNDLE),
                        else the modules' defaults. Default: one tenant, ``localhost``, entirely from the
                        environment.
    interval:           seconds between two polls of a tenant (default 60)
    max_backoff:        the longest pause, in seconds, after repeated failures of a tenant (default 900)
    state_file:         where emitted entries are remembered (default ~/.m365ops/restricted_users.json)
    include_existing:   on a tenant's first poll (nothing remembered yet), also emit the accounts already
                        on the list (default true); false only remembers them
    once:               poll every tenant once, then stop (default false)

Events::

    {"restricted_user": {"tenant": NAME, "tenant_id": ID, "address": ..., "created": ..., "changed": ...,
                         "temporary_block": ..., "reason": ..., "reason_details": {...}},
     "meta": {"hosts": NAME}}
    {"restricted_users_error": {"tenant": NAME, "tenant_id": ID, "error": {...}, "failures": N, "retry_in": S},
     "meta": {"hosts": NAME}}
"""

from __future__ import annotations

import asyncio
import os
import sys
import typing as t

try:
    from ansible_collections.m365ops.remediation.plugins.module_utils.connection import Connection, connection_options
except ImportError:
    # ansible-rulebook runs this file by path; the folder holding ansible_collections/ is where it lies.
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), *['..'] * 7)))
    from ansible_collections.m365ops.remediation.plugins.module_utils.connection import Connection, connection_options
from ansible_collections.m365ops.remediation.plugins.module_utils import secure_file
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import ExchangeClient
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.restricted_users import RestrictedUsers

STATE_VERSION = 1
DEFAULT_STATE_FILE = '~/.m365ops/restricted_users.json'


def tenant_options(given: dict[str, t.Any], environ: t.Mapping[str, str]) -> dict[str, t.Any]:
    """A tenant's name and every connection option: the given ones, else the environment's, else the defaults.

    An option of the wrong type stops the source at its start, naming the tenant and the option.
    """
    options: dict[str, t.Any] = {'name': str(given.get('name') or 'localhost')}
    try:
        options.update(connection_options(given, environ))
    except M365Error as error:
        raise M365Error(f"Tenant {options['name']}: {error.message}", code=error.code) from None
    return options


def entry_key(entry: dict[str, t.Any]) -> str:
    """What identifies one restriction: the address and the time it was blocked."""
    return '%s|%s' % (entry['address'], entry.get('created') or '')


def new_entries(entries: t.Iterable[dict[str, t.Any]], seen: t.Iterable[str]) -> tuple[list[dict[str, t.Any]], list[str]]:
    """The entries not emitted before, in address order, and the keys to remember from now on.

    Only keys of entries still listed are kept, so the state stays as small as the lists; an address
    unblocked and blocked again has a new block time and counts as new.
    """
    known = set(seen)
    current: dict[str, dict[str, t.Any]] = {}
    for entry in entries:
        current.setdefault(entry_key(entry), entry)
    fresh = sorted((e for k, e in current.items() if k not in known), key=lambda e: (e['address'], e.get('created') or ''))
    return fresh, sorted(current)


def poll_delay(interval: float, failures: int, max_backoff: float) -> float:
    """Seconds until a tenant's next poll: the interval, doubled after each failure in a row, capped."""
    if failures <= 0:
        return float(interval)
    return float(min(max(interval, max_backoff), interval * (2 ** min(failures, 30))))


def load_state(path: str) -> dict[str, list[str]]:
    """The emitted keys per tenant from the state file; empty when it is absent."""
    if not os.path.lexists(path):
        return {}
    document = secure_file.read_json(path)
    if not isinstance(document, dict) or document.get('version') != STATE_VERSION:
        return {}
    tenants = document.get('tenants')
    if not isinstance(tenants, dict):
        return {}
    return {str(k): [str(x) for x in v] for k, v in tenants.items() if isinstance(v, list)}


def save_state(path: str, state: dict[str, list[str]]) -> None:
    """Replace the state file atomically (mode 0600), making its folder (0700) when missing."""
    secure_file.make_private_folder(os.path.dirname(os.path.abspath(path)))
    secure_file.write_json(path, {'version': STATE_VERSION, 'tenants': state})


def state_key(options: dict[str, t.Any]) -> str:
    """The tenant's key in the state file: its name and tenant id, so that renaming either starts afresh."""
    return '%s/%s' % (options['name'], options.get('tenant_id') or '')


class TenantPoller:
    """Reads one tenant's Restricted Users list; its connection's clients are built on the first poll and kept."""

    def __init__(self, options: dict[str, t.Any]) -> None:
        self.options = options
        self.name = options['name']
        self.key = state_key(options)
        self.failures = 0
        self.due = 0.0
        self.connection = Connection(options)

    def _client(self) -> ExchangeClient:
        return self.connection.exchange

    def read(self) -> list[dict[str, t.Any]]:
        """The whole list, in the collection's entry shape (blocking: run it in a thread)."""
        listed, _errors = RestrictedUsers(self._client()).read()
        return list(listed.values())

    def event(self, entry: dict[str, t.Any]) -> dict[str, t.Any]:
        """The event for one newly restricted account."""
        body = {'tenant': self.name, 'tenant_id': self.options.get('tenant_id')}
        body.update(entry)
        return {'restricted_user': body, 'meta': {'hosts': self.name}}

    def error_event(self, error: M365Error, retry_in: float) -> dict[str, t.Any]:
        """The event for a failed poll."""
        return {'restricted_users_error': {'tenant': self.name, 'tenant_id': self.options.get('tenant_id'),
                                           'error': error.to_dict(), 'message': str(error),
                                           'failures': self.failures, 'retry_in': retry_in},
                'meta': {'hosts': self.name}}


class Source:
    """The polling loop over every tenant, with the state file."""

    def __init__(self, args: dict[str, t.Any], environ: t.Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        tenants = args.get('tenants') or [{}]
        self.pollers = [TenantPoller(tenant_options(tenant, environ)) for tenant in tenants]
        self.interval = float(args.get('interval', 60))
        self.max_backoff = float(args.get('max_backoff', 900))
        self.include_existing = bool(args.get('include_existing', True))
        self.once = bool(args.get('once', False))
        self.state_file = os.path.expanduser(str(args.get('state_file') or DEFAULT_STATE_FILE))
        self.state: dict[str, list[str]] = {}

    async def poll(self, poller: TenantPoller, queue: t.Any) -> None:
        """One poll of one tenant: events for the new entries, or an error event."""
        try:
            entries = await asyncio.to_thread(poller.read)
        except M365Error as error:
            poller.failures += 1
            delay = poll_delay(self.interval, poller.failures, self.max_backoff)
            poller.due = asyncio.get_running_loop().time() + delay
            await queue.put(poller.error_event(error, delay))
            return
        poller.failures = 0
        poller.due = asyncio.get_running_loop().time() + self.interval
        first = poller.key not in self.state
        fresh, keys = new_entries(entries, self.state.get(poller.key, ()))
        if not first or self.include_existing:
            for entry in fresh:
                await queue.put(poller.event(entry))
        # Remembered only after the events are on the queue: a crash in between emits them again, never loses them.
        if keys != self.state.get(poller.key):
            self.state[poller.key] = keys
            await asyncio.to_thread(save_state, self.state_file, self.state)

    async def run(self, queue: t.Any) -> None:
        """Poll every tenant when it is due, until cancelled (or once through with ``once``)."""
        self.state = await asyncio.to_thread(load_state, self.state_file)
        loop = asyncio.get_running_loop()
        for poller in self.pollers:
            poller.due = loop.time()
        while True:
            for poller in self.pollers:
                if poller.due <= loop.time():
                    await self.poll(poller, queue)
            if self.once:
                return
            wake = min(p.due for p in self.pollers)
            await asyncio.sleep(max(0.0, wake - loop.time()))


async def main(queue: t.Any, args: dict[str, t.Any]) -> None:
    """Entry point called by ansible-rulebook."""
    await Source(args).run(queue)


if __name__ == '__main__':
    # Poll once and print the events: a quick check of the credentials and permissions.
    class _PrintQueue:
        async def put(self, event: dict[str, t.Any]) -> None:
            print(event)

    asyncio.run(main(_PrintQueue(), {'once': True, 'state_file': os.environ.get('RESTRICTED_USERS_STATE_FILE') or DEFAULT_STATE_FILE}))
