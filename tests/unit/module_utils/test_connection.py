"""The connection options written once: the modules' argument spec, the options of callers that are not modules,
the shared documentation, and the clients a Connection builds from them."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml
from m365emu import seeds

from ansible.module_utils import basic

from ansible_collections.m365ops.remediation.extensions.eda.plugins.event_source import restricted_users as src
from ansible_collections.m365ops.remediation.plugins.doc_fragments.auth import ModuleDocFragment
from ansible_collections.m365ops.remediation.plugins.module_utils import base
from ansible_collections.m365ops.remediation.plugins.module_utils import connection as conn
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error

# The environment variables of the options: azure-identity's names, GitHub Actions' and the collection's own.
EXPECTED_ENVIRONMENT = {
    'tenant_id': ('AZURE_TENANT_ID',),
    'client_id': ('AZURE_CLIENT_ID',),
    'client_secret': ('AZURE_CLIENT_SECRET',),
    'client_certificate_path': ('AZURE_CLIENT_CERTIFICATE_PATH',),
    'client_certificate_password': ('AZURE_CLIENT_CERTIFICATE_PASSWORD',),
    'federated_token_file': ('AZURE_FEDERATED_TOKEN_FILE',),
    'federated_token_request_url': ('ACTIONS_ID_TOKEN_REQUEST_URL',),
    'federated_token_request_token': ('ACTIONS_ID_TOKEN_REQUEST_TOKEN',),
    'authority_host': ('AZURE_AUTHORITY_HOST',),
    'graph_endpoint': ('M365_GRAPH_ENDPOINT',),
    'exchange_endpoint': ('M365_EXCHANGE_ENDPOINT',),
    'ca_bundle': ('M365_CA_BUNDLE',),
}
SECRET_OPTIONS = {'client_secret', 'client_certificate_password', 'federated_token', 'federated_token_request_token',
                  'access_token'}
ALL_VARIABLES = sorted({name for option in conn.CONNECTION_OPTIONS for name in option.environment})


def sample(option: conn.ConnectionOption, origin: str) -> str:
    """A value of the option's type, as text (as an environment variable or a YAML string gives it)."""
    if option.type == 'int':
        return '3' if origin == 'given' else '7'
    if option.type == 'float':
        return '2.5' if origin == 'given' else '9'
    if option.choices:
        return option.choices[0]
    if option.type == 'path':
        return f'/{origin}/{option.name}.pem'
    return f'{origin}-{option.name}-value'


def module_params(given: dict, environ: dict, monkeypatch) -> tuple[dict, set]:
    """The parameters and the values to mask of a module given ``given`` in an environment of ``environ``."""
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    args = dict(given, _ansible_check_mode=False)
    monkeypatch.setattr(basic, '_ANSIBLE_ARGS', json.dumps(dict(ANSIBLE_MODULE_ARGS=args)).encode())
    monkeypatch.setattr(basic, '_ANSIBLE_PROFILE', 'legacy', raising=False)
    m = base.M365Module({})
    return m.params, set(m.module.no_log_values)


# -- one table, two readings -----------------------------------------------------------------------------


def test_the_argument_spec_is_the_table():
    spec = conn.argument_spec()
    assert spec == base.auth_argument_spec()
    assert list(spec) == [option.name for option in conn.CONNECTION_OPTIONS]
    for option in conn.CONNECTION_OPTIONS:
        entry = spec[option.name]
        assert entry['type'] == option.type
        assert entry.get('default') == option.default
        assert entry['no_log'] is option.no_log
        assert tuple(entry.get('choices', ())) == option.choices
        fallback = entry.get('fallback')
        if option.name == 'tenant_id':
            assert fallback is None  # applied by M365Module itself
        elif option.environment:
            assert fallback[0] is basic.env_fallback and tuple(fallback[1]) == option.environment
        else:
            assert fallback is None


def test_environment_variables_and_secrets_are_the_documented_ones():
    assert {o.name: o.environment for o in conn.CONNECTION_OPTIONS if o.environment} == EXPECTED_ENVIRONMENT
    assert {o.name for o in conn.CONNECTION_OPTIONS if o.no_log} == SECRET_OPTIONS


@pytest.mark.parametrize('given_all, environment_all', [(False, False), (False, True), (True, False), (True, True)],
                         ids=['defaults', 'environment', 'given', 'given-over-environment'])
def test_a_module_and_a_caller_that_is_not_one_read_the_same_options(monkeypatch, given_all, environment_all):
    given = {o.name: sample(o, 'given') for o in conn.CONNECTION_OPTIONS} if given_all else {}
    environ = {name: sample(o, 'env') for o in conn.CONNECTION_OPTIONS for name in o.environment} if environment_all else {}
    params, masked = module_params(given, environ, monkeypatch)
    options = conn.connection_options(given, environ)
    for option in conn.CONNECTION_OPTIONS:
        assert options[option.name] == params[option.name], option.name
        assert type(options[option.name]) is type(params[option.name]), option.name  # pylint: disable=unidiomatic-typecheck
        if option.no_log and options[option.name]:
            assert options[option.name] in masked, option.name
        elif options[option.name] is not None:
            assert str(options[option.name]) not in masked, option.name
    if environment_all and not given_all:
        assert options['tenant_id'] == 'env-tenant_id-value'
        assert options['max_retries'] == 5 and options['request_timeout'] == 60.0  # no variables: the defaults


def test_a_refused_environment_tenant_is_not_taken_by_either(monkeypatch):
    given = {'environment_tenant': 'refuse', 'client_id': 'c'}
    environ = {'AZURE_TENANT_ID': 'contoso.com'}
    assert conn.connection_options(given, environ)['tenant_id'] is None
    assert conn.connection_options(dict(given, tenant_id='fabrikam.com'), environ)['tenant_id'] == 'fabrikam.com'
    assert conn.connection_options({}, environ)['tenant_id'] == 'contoso.com'
    with pytest.raises(SystemExit):
        module_params(given, environ, monkeypatch)


# -- the options of callers that are not modules ---------------------------------------------------------


def test_given_values_win_and_empty_ones_count_as_not_given():
    environ = {'AZURE_CLIENT_ID': 'env-client', 'AZURE_CLIENT_SECRET': 'env-secret', 'M365_EXCHANGE_ENDPOINT': '',
               'ACTIONS_ID_TOKEN_REQUEST_URL': 'https://issuer.example/request', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN': 'rt'}
    options = conn.connection_options({'client_id': 'given-client', 'client_secret': '', 'graph_endpoint': None}, environ)
    assert options['client_id'] == 'given-client'
    assert options['client_secret'] == 'env-secret'
    assert options['graph_endpoint'] == 'https://graph.microsoft.com'
    assert options['exchange_endpoint'] == 'https://outlook.office365.com'  # an empty variable is unset
    assert options['federated_token_request_url'] == 'https://issuer.example/request'
    assert options['federated_token_request_token'] == 'rt'
    assert options['federated_token_audience'] == 'api://AzureADTokenExchange'
    assert options['access_token'] is None and options['client_certificate_path'] is None


def test_only_connection_options_are_returned():
    options = conn.connection_options({'name': 'contoso', 'interval': 5, 'client_id': 'c'}, {})
    assert set(options) == set(conn.OPTIONS_BY_NAME)


def test_values_are_converted_as_ansible_converts_them(monkeypatch):
    monkeypatch.setenv('HOME', '/home/poller')
    options = conn.connection_options({'max_retries': '2', 'request_timeout': 20, 'max_retry_wait': '7.5',
                                       'ca_bundle': '~/ca.pem', 'client_id': 1234},
                                      {'AZURE_FEDERATED_TOKEN_FILE': '~/token'})
    assert options['max_retries'] == 2
    assert options['request_timeout'] == 20.0 and isinstance(options['request_timeout'], float)
    assert options['max_retry_wait'] == 7.5
    assert options['ca_bundle'] == '/home/poller/ca.pem'
    assert options['federated_token_file'] == '/home/poller/token'
    assert options['client_id'] == '1234'
    flag = conn.ConnectionOption('some_flag', type='bool')
    assert conn.convert(flag, 'yes') is True and conn.convert(flag, 'false') is False and conn.convert(flag, None) is None


@pytest.mark.parametrize('given, named', [
    ({'max_retries': 'three-Xy9-secret'}, 'max_retries must be of type int'),
    ({'request_timeout': 'soon-Xy9-secret'}, 'request_timeout must be of type float'),
    ({'environment_tenant': 'sometimes-Xy9-secret'}, 'environment_tenant must be one of: allow, refuse'),
])
def test_a_value_of_the_wrong_type_is_named_but_not_shown(given, named):
    with pytest.raises(M365Error, match=named) as caught:
        conn.connection_options(given, {})
    assert 'Xy9' not in str(caught.value) and caught.value.code == 'invalid_configuration'


# -- the documentation -----------------------------------------------------------------------------------


def _documented() -> dict:
    return yaml.safe_load(ModuleDocFragment.DOCUMENTATION)


def test_the_doc_fragment_documents_the_table():
    documented = _documented()
    options = documented['options']
    assert list(options) == [option.name for option in conn.CONNECTION_OPTIONS]
    for option in conn.CONNECTION_OPTIONS:
        doc = options[option.name]
        assert doc['type'] == option.type, option.name
        assert doc.get('default') == option.default, option.name
        assert tuple(doc.get('choices', ())) == option.choices, option.name
        variables = [name for line in doc['description'] if line.startswith('Falls back to')
                     for name in re.findall(r'E\((\w+)\)', line)]
        assert tuple(variables) == option.environment, option.name
    [secrets_note] = [note for note in documented['notes'] if note.startswith('Secrets')]
    assert set(re.findall(r'O\((\w+)\)', secrets_note)) == SECRET_OPTIONS


# -- the Connection --------------------------------------------------------------------------------------


def test_nothing_is_built_before_a_client_is_used():
    connection = conn.Connection(conn.connection_options({}, {}))
    assert connection._transport is None and connection._credential is None  # pylint: disable=protected-access
    with pytest.raises(M365Error, match='Missing authentication settings') as caught:
        connection.credential
    assert caught.value.code == 'invalid_configuration'


def test_the_transport_follows_the_options():
    checked = []
    options = conn.connection_options({'max_retries': 2, 'max_retry_wait': 9, 'request_timeout': '7',
                                       'ca_bundle': '/etc/ca.pem'}, {})
    connection = conn.Connection(options, check_libraries=lambda: checked.append(True))
    transport = connection.transport
    assert transport is connection.transport and checked == [True]
    assert transport.retry.max_attempts == 3 and transport.retry.max_total_wait == 9.0
    assert transport.timeout == 7.0 and transport.verify == '/etc/ca.pem'
    connection.close()

    bare = conn.Connection({'max_retries': -4, 'max_retry_wait': -1})
    assert bare.transport.retry.max_attempts == 1 and bare.transport.retry.max_total_wait == 0.0
    assert bare.transport.verify is True and bare.transport.timeout == 60.0


@pytest.mark.parametrize('max_concurrency, options, expected', [
    (None, {}, conn.DEFAULT_EXCHANGE_CONCURRENCY), (None, {'max_concurrency': 3}, 3), (2, {'max_concurrency': 3}, 2)])
def test_the_exchange_limit(emulator, max_concurrency, options, expected):
    given = dict(options, tenant_id=seeds.FABRIKAM_TENANT_ID, client_id=seeds.FABRIKAM_CLIENT_ID, client_secret=seeds.FABRIKAM_SECRET,
                 authority_host=emulator.base_url, exchange_endpoint=emulator.base_url, ca_bundle=emulator.ca_path)
    connection = conn.Connection(dict(conn.connection_options(given, {}), **options), max_concurrency=max_concurrency)
    assert connection.exchange is connection.exchange
    assert connection.transport.limits['exchange'].maximum == expected


def test_clients_talk_to_the_services_only_when_used(emulator):
    mark = emulator.mark()
    options = conn.connection_options({'tenant_id': seeds.FABRIKAM_DOMAIN}, dict(
        emulator.env(), AZURE_CLIENT_ID=seeds.FABRIKAM_CLIENT_ID, AZURE_CLIENT_SECRET=seeds.FABRIKAM_SECRET))
    connection = conn.Connection(options)
    assert connection.graph.endpoint.rstrip('/') == emulator.base_url.rstrip('/')
    assert connection.exchange.endpoint.rstrip('/') == emulator.base_url.rstrip('/')
    assert emulator.journal(mark) == []
    assert connection.tenant_guid('exchange') == seeds.FABRIKAM_TENANT_ID
    assert connection.tenant_guid() == seeds.FABRIKAM_TENANT_ID
    assert {entry['service'] for entry in emulator.journal(mark)} == {'token'}
    connection.close()


# -- the event source keeps every option -----------------------------------------------------------------


def test_the_event_source_keeps_every_connection_option():
    given = {'name': 'contoso', 'tenant_id': 'contoso.com', 'max_retries': 1, 'max_retry_wait': 4, 'request_timeout': 5,
             'access_token': 'pre-acquired-token', 'federated_token_request_url': 'https://issuer.example/request',
             'graph_endpoint': 'https://graph.example'}
    options = src.tenant_options(given, {'ACTIONS_ID_TOKEN_REQUEST_TOKEN': 'request-token'})
    assert options['name'] == 'contoso'
    assert options['max_retries'] == 1 and options['access_token'] == 'pre-acquired-token'
    assert options['federated_token_request_url'] == 'https://issuer.example/request'
    assert options['federated_token_request_token'] == 'request-token'
    assert options['graph_endpoint'] == 'https://graph.example'
    poller = src.TenantPoller(options)
    assert poller.connection.transport.retry.max_attempts == 2
    assert poller.connection.transport.retry.max_total_wait == 4.0 and poller.connection.transport.timeout == 5.0
    assert type(poller.connection.credential).__name__ == 'AccessTokenCredential'


def test_the_event_source_names_the_tenant_of_a_bad_option():
    with pytest.raises(M365Error, match='Tenant contoso: The connection option max_retries must be of type int'):
        src.tenant_options({'name': 'contoso', 'max_retries': 'many'}, {})


def test_no_variable_is_read_from_the_process_environment_by_connection_options(monkeypatch):
    monkeypatch.setenv('AZURE_CLIENT_SECRET', 'from-the-process')
    assert conn.connection_options({}, {})['client_secret'] is None
    assert os.environ['AZURE_CLIENT_SECRET'] == 'from-the-process'
