"""Run a module of the collection in this process, as Ansible's own module tests do, against the emulator.

The module's ``main()`` reads its arguments from ``ansible.module_utils.basic`` (set with ``patch_module_args``),
prints its result as JSON and exits; the runner catches the exit and reads what it printed. The connection options
point the module at the emulator; nothing of ``requests`` or ``msal`` is replaced.
"""

from __future__ import annotations

import importlib
import json
import typing as t
from dataclasses import dataclass, field

import pytest
from m365emu import seeds

from ansible.module_utils.testing import patch_module_args

from ansible_collections.m365ops.remediation.plugins.module_utils import connection
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.credential import clear_app_cache

TENANT = seeds.CONTOSO_TENANT_ID

# Connection options left out fail before any request, whatever the module, in one sentence each: a test that takes
# the argument ``connection_error`` runs once per entry, given ``(options, start of the message)``.
CONNECTION_ERRORS = [
    pytest.param((dict(tenant_id=None, environment_tenant='refuse'), 'No tenant named for this host: set tenant_id'), id='no-tenant'),
    pytest.param((dict(client_secret=None), 'Missing authentication settings: a credential: one of'), id='no-credential'),
    pytest.param((dict(client_id=None), 'Missing authentication settings: client_id (env AZURE_CLIENT_ID)'), id='no-client-id'),
]


def pytest_generate_tests(metafunc):
    if 'connection_error' in metafunc.fixturenames:
        metafunc.parametrize('connection_error', CONNECTION_ERRORS)


@dataclass
class ModuleRun:
    """What one module run printed and what the emulator saw meanwhile."""

    result: dict[str, t.Any]
    rc: int
    journal: list[dict[str, t.Any]] = field(default_factory=list)
    writes: list[dict[str, t.Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.result.get('failed'))

    def by(self, key: str) -> dict[str, dict[str, t.Any]]:
        """The per-item results by ``key`` (user or address)."""
        return {item[key]: item for item in self.result['results']}

    def requests(self) -> list[tuple[str, str, str | None]]:
        """Each request as (service, method or cmdlet, path), $batch items apart."""
        out = []
        for entry in self.journal:
            if entry.get('batch_items'):
                out += [(entry['service'], item['method'], item['url']) for item in entry['batch_items']]
            elif entry['service'] == 'exchange':
                out.append(('exchange', entry['cmdlet'], None))
            else:
                out.append((entry['service'], entry['method'], entry['path']))
        return out

    def assert_no_request(self) -> None:
        """The module stopped before it talked to any service (no token request either)."""
        assert self.journal == [], self.journal

    def assert_refused(self, message: str) -> None:
        """The task failed with ``message`` (after the service and code of a collection error, when it names them)
        before any request."""
        assert self.failed and self.rc == 1, self.result
        assert self.result['msg'].split('] ', 1)[-1].startswith(message), self.result['msg']
        self.assert_no_request()

    def assert_no_writes(self) -> None:
        """The rule of tests/integration/targets/setup_emulator/tasks/assert_no_writes.yml: some request was made, and no
        entry or $batch item is a write. Spelled out as well: Graph only GET (token requests and a $batch of GETs
        aside), Exchange only Get- cmdlets."""
        assert self.journal, 'the module made no request at all'
        assert self.writes == [], self.writes
        for service, verb, path in self.requests():
            if service == 'exchange':
                assert verb.startswith('Get-'), (verb, path)
            elif service == 'graph':
                assert verb == 'GET', (verb, path)


@pytest.fixture(autouse=True)
def fresh_msal_apps():
    """Each module run starts with no cached msal application (and so no cached token), as a module process would."""
    clear_app_cache()
    yield
    clear_app_cache()


@pytest.fixture(autouse=True)
def no_connection_environment(monkeypatch):
    """The modules read connection options from the environment too: only the options given count here."""
    for option in connection.CONNECTION_OPTIONS:
        for name in option.environment:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def connection_options(emulator) -> dict[str, t.Any]:
    """The connection options that point a module at the emulator, as the contoso app."""
    return dict(tenant_id=TENANT, client_id=seeds.CONTOSO_CLIENT_ID, client_secret=seeds.CONTOSO_SECRET,
                authority_host=emulator.base_url, graph_endpoint=emulator.base_url, exchange_endpoint=emulator.base_url,
                ca_bundle=emulator.ca_path)


@pytest.fixture
def run_module(emulator, connection_options, capsys):
    """``run_module(name, check_mode=False, diff=False, no_log=False, connect=True, **args)``: run the module in this process.

    ``args`` are the module's options; with ``connect``, the connection options are added (an option given as None is
    left out). Returns a :class:`ModuleRun`.
    """
    def run(name: str, check_mode: bool = False, diff: bool = False, no_log: bool = False, connect: bool = True,
            **args: t.Any) -> ModuleRun:
        module = importlib.import_module('ansible_collections.m365ops.remediation.plugins.modules.' + name)
        params = {k: v for k, v in dict(connection_options if connect else {}, **args).items() if v is not None}
        params.update(_ansible_check_mode=check_mode, _ansible_diff=diff, _ansible_no_log=no_log)
        capsys.readouterr()
        mark = emulator.mark()
        with patch_module_args(params), pytest.raises(SystemExit) as exited:
            module.main()
        printed = capsys.readouterr().out
        return ModuleRun(json.loads(printed), exited.value.code or 0, emulator.journal(mark), emulator.writes(mark))
    return run


@pytest.fixture
def state(emulator):
    """``state()``: the contoso tenant as the emulator holds it now."""
    return lambda: emulator.state(TENANT)
