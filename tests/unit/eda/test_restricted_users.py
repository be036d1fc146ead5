"""The restricted_users event source: its pure parts, the state file, and one poll against the emulator."""

from __future__ import annotations

import asyncio
import os
import stat

import pytest
from m365emu import seeds

from ansible_collections.m365ops.remediation.extensions.eda.plugins.event_source import restricted_users as src
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.credential import clear_app_cache
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error


def entry(address: str, created: str = '2026-11-20T08:00:00Z') -> dict:
    return {'address': address, 'created': created}


class ListQueue(list):
    """Stands in for the rulebook's asyncio queue."""

    async def put(self, event: dict) -> None:
        self.append(event)


# -- pure parts ------------------------------------------------------------------------------------------


def test_new_entries_dedupes_by_address_and_block_time():
    listed = [entry('b@x.com'), entry('a@x.com'), entry('a@x.com')]
    fresh, keys = src.new_entries(listed, [])
    assert [e['address'] for e in fresh] == ['a@x.com', 'b@x.com']
    assert keys == ['a@x.com|2026-11-20T08:00:00Z', 'b@x.com|2026-11-20T08:00:00Z']

    fresh, again = src.new_entries(listed, keys)
    assert fresh == [] and again == keys


def test_new_entries_emits_a_new_block_of_the_same_address_and_forgets_unlisted_ones():
    seen = ['a@x.com|2026-11-20T08:00:00Z', 'gone@x.com|2026-11-19T08:00:00Z']
    fresh, keys = src.new_entries([entry('a@x.com', '2026-11-21T09:00:00Z')], seen)
    assert fresh == [entry('a@x.com', '2026-11-21T09:00:00Z')]
    assert keys == ['a@x.com|2026-11-21T09:00:00Z']


def test_entry_without_block_time_still_has_a_key():
    assert src.entry_key({'address': 'a@x.com', 'created': None}) == 'a@x.com|'


@pytest.mark.parametrize('failures, expected', [(0, 60), (1, 120), (2, 240), (3, 480), (4, 900), (50, 900)])
def test_poll_delay_doubles_after_each_failure_up_to_the_cap(failures, expected):
    assert src.poll_delay(60, failures, 900) == expected


def test_poll_delay_never_below_the_interval():
    assert src.poll_delay(600, 1, 60) == 600
    assert src.poll_delay(600, 0, 60) == 600


def test_tenant_options_take_the_environment_for_what_is_not_given():
    environ = {'AZURE_TENANT_ID': 'env-tenant', 'AZURE_CLIENT_ID': 'env-client', 'AZURE_CLIENT_SECRET': 'env-secret',
               'M365_CA_BUNDLE': '/ca.pem'}
    options = src.tenant_options({'name': 'contoso', 'tenant_id': 'contoso.com', 'client_secret': ''}, environ)
    assert options['name'] == 'contoso'
    assert options['tenant_id'] == 'contoso.com'
    assert options['client_id'] == 'env-client'
    assert options['client_secret'] == 'env-secret'
    assert options['ca_bundle'] == '/ca.pem'
    assert options['exchange_endpoint'] == 'https://outlook.office365.com'
    assert options['client_certificate_path'] is None
    assert src.tenant_options({}, {})['name'] == 'localhost'


def test_tenant_options_take_every_connection_option_and_the_defaults():
    options = src.tenant_options({'name': 'contoso', 'max_retries': '1', 'request_timeout': 5, 'access_token': 'tok',
                                  'federated_token_request_url': 'https://issuer.example/request'},
                                 {'ACTIONS_ID_TOKEN_REQUEST_TOKEN': 'request-token', 'M365_GRAPH_ENDPOINT': 'https://graph.example'})
    assert options['max_retries'] == 1 and options['request_timeout'] == 5.0 and options['max_retry_wait'] == 120.0
    assert options['access_token'] == 'tok'
    assert options['federated_token_request_url'] == 'https://issuer.example/request'
    assert options['federated_token_request_token'] == 'request-token'
    assert options['federated_token_audience'] == 'api://AzureADTokenExchange'
    assert options['graph_endpoint'] == 'https://graph.example'
    assert options['authority_host'] == 'https://login.microsoftonline.com'


# -- state file ------------------------------------------------------------------------------------------


def test_state_round_trip_is_private(tmp_path):
    path = str(tmp_path / 'state' / 'restricted_users.json')
    assert src.load_state(path) == {}
    state = {'contoso/guid': ['rob@contoso.com|2026-11-20T08:00:00Z']}
    src.save_state(path, state)
    assert src.load_state(path) == state
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert not [name for name in os.listdir(os.path.dirname(path)) if name != 'restricted_users.json']


def test_state_of_another_version_is_ignored(tmp_path):
    path = str(tmp_path / 'state.json')
    (tmp_path / 'state.json').write_text('{"version": 99, "tenants": {"a": ["x|y"]}}')
    os.chmod(path, 0o600)
    assert src.load_state(path) == {}


def test_state_file_behind_a_link_is_refused(tmp_path):
    target = tmp_path / 'elsewhere.json'
    target.write_text('{}')
    link = tmp_path / 'state.json'
    link.symlink_to(target)
    with pytest.raises(M365Error, match='symbolic link'):
        src.load_state(str(link))
    with pytest.raises(M365Error, match='symbolic link'):
        src.save_state(str(link), {})


# -- against the emulator --------------------------------------------------------------------------------


@pytest.fixture
def tenants(emulator):
    clear_app_cache()
    common = {'authority_host': emulator.base_url, 'exchange_endpoint': emulator.base_url, 'ca_bundle': emulator.ca_path}
    yield {
        'fabrikam': dict(common, name='fabrikam', tenant_id=seeds.FABRIKAM_TENANT_ID, client_id=seeds.FABRIKAM_CLIENT_ID,
                         client_secret=seeds.FABRIKAM_SECRET),
        'wrong': dict(common, name='northwind', tenant_id=seeds.NORTHWIND_TENANT_ID, client_id=seeds.NORTHWIND_CLIENT_ID,
                      client_secret='not the secret'),
    }
    clear_app_cache()


def poll_once(tmp_path, *tenant_list, **args) -> ListQueue:
    queue = ListQueue()
    source = src.Source(dict(args, tenants=list(tenant_list), once=True, interval=30,
                             state_file=str(tmp_path / 'state.json')), environ={})
    asyncio.run(source.run(queue))
    return queue


def test_one_event_per_restricted_account_and_an_error_event_for_a_failing_tenant(emulator, tmp_path, tenants):
    mark = emulator.mark()
    events = poll_once(tmp_path, tenants['wrong'], tenants['fabrikam'])
    errors = [e['restricted_users_error'] for e in events if 'restricted_users_error' in e]
    found = [e for e in events if 'restricted_user' in e]
    assert [(e['restricted_user']['tenant'], e['restricted_user']['address']) for e in found] == [
        ('fabrikam', 'alice@fabrikam.com'), ('fabrikam', 'bert@fabrikam.com')]
    alice = found[0]
    assert alice['meta'] == {'hosts': 'fabrikam'}
    assert alice['restricted_user']['tenant_id'] == seeds.FABRIKAM_TENANT_ID
    assert alice['restricted_user']['created'] and alice['restricted_user']['reason_details']
    [error] = errors
    assert error['tenant'] == 'northwind' and error['error']['service'] == 'auth'
    assert error['failures'] == 1 and error['retry_in'] == 60
    assert 'not the secret' not in str(events)
    assert emulator.writes(mark) == []

    # Polled again (as after a restart): nothing new; a new restriction is emitted, and only it.
    assert [e for e in poll_once(tmp_path, tenants['fabrikam']) if 'restricted_user' in e] == []
    emulator.restrict(seeds.FABRIKAM_TENANT_ID, 'carol@fabrikam.com')
    again = poll_once(tmp_path, tenants['fabrikam'])
    assert [e['restricted_user']['address'] for e in again] == ['carol@fabrikam.com']


def test_existing_accounts_only_remembered_when_asked(emulator, tmp_path, tenants):
    assert poll_once(tmp_path, tenants['fabrikam'], include_existing=False) == []
    assert len(src.load_state(str(tmp_path / 'state.json'))['fabrikam/' + seeds.FABRIKAM_TENANT_ID]) == 2
    emulator.restrict(seeds.FABRIKAM_TENANT_ID, 'carol@fabrikam.com')
    events = poll_once(tmp_path, tenants['fabrikam'], include_existing=False)
    assert [e['restricted_user']['address'] for e in events] == ['carol@fabrikam.com']


def test_throttled_tenant_gets_an_error_event_and_backs_off(emulator, tmp_path, tenants):
    emulator.set_faults([{'service': 'exchange', 'tenant': seeds.FABRIKAM_TENANT_ID, 'status': 429, 'retry_after': '0',
                          'count': 50}])
    [event] = poll_once(tmp_path, tenants['fabrikam'])
    error = event['restricted_users_error']
    assert error['error']['status'] == 429
    assert error['retry_in'] == 60
    assert not (tmp_path / 'state.json').exists()


def exchange_requests(emulator, mark: int) -> list:
    return [entry for entry in emulator.journal(mark) if entry['service'] == 'exchange']


def test_a_tenant_s_max_retries_bounds_the_retries_of_a_throttled_poll(emulator, tmp_path, tenants):
    emulator.set_faults([{'service': 'exchange', 'tenant': seeds.FABRIKAM_TENANT_ID, 'status': 429, 'retry_after': '0',
                          'count': 50}])
    mark = emulator.mark()
    [event] = poll_once(tmp_path, dict(tenants['fabrikam'], max_retries=1))
    assert event['restricted_users_error']['error']['status'] == 429
    assert len(exchange_requests(emulator, mark)) == 2


def test_a_tenant_polled_with_a_pre_acquired_access_token(emulator, tmp_path, tenants):
    common = {'tenant_id': seeds.FABRIKAM_TENANT_ID, 'exchange_endpoint': emulator.base_url, 'ca_bundle': emulator.ca_path}
    signed_in = src.Connection(src.tenant_options(tenants['fabrikam'], {}))
    token = signed_in.credential.get_token(signed_in.exchange.resource)
    mark = emulator.mark()
    events = poll_once(tmp_path, dict(common, name='fabrikam', access_token=token))
    assert [e['restricted_user']['address'] for e in events] == ['alice@fabrikam.com', 'bert@fabrikam.com']
    assert {entry['service'] for entry in emulator.journal(mark)} == {'exchange'}  # no sign-in of its own
    assert token not in str(events)


def test_a_tenant_signed_in_with_a_ci_job_s_oidc_token(emulator, tmp_path):
    job = emulator.oidc_job(seeds.CONTOSO_OIDC_SUBJECT)
    tenant = {'name': 'contoso', 'tenant_id': seeds.CONTOSO_TENANT_ID, 'client_id': seeds.CONTOSO_CLIENT_ID,
              'federated_token_request_url': job['ACTIONS_ID_TOKEN_REQUEST_URL'],
              'federated_token_request_token': job['ACTIONS_ID_TOKEN_REQUEST_TOKEN'],
              'authority_host': emulator.base_url, 'exchange_endpoint': emulator.base_url, 'ca_bundle': emulator.ca_path}
    minted = emulator.oidc_minted()
    events = poll_once(tmp_path, tenant)
    assert events and all('restricted_user' in e for e in events)
    assert {e['restricted_user']['tenant'] for e in events} == {'contoso'}
    assert emulator.oidc_minted() == minted + 1
