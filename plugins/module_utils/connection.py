# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The connection options, written once, and the clients built from them.

One table (:data:`CONNECTION_OPTIONS`) names every option: its type, default, whether it is secret, and the
environment variables it falls back to. From it come the modules' argument spec (:func:`argument_spec`) and,
for callers that are not modules (the event source, lookup or inventory plugins), the same options resolved
from given values and the environment (:func:`connection_options`). A :class:`Connection` builds the
transport, the credential and the service clients from such options, each when it is first used.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.validation import (
    check_type_bool,
    check_type_float,
    check_type_int,
    check_type_path,
    check_type_str,
)

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import transport as transport_mod
from ansible_collections.m365ops.remediation.plugins.module_utils import auth as auth_mod
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import GraphClient
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import ExchangeClient
from ansible_collections.m365ops.remediation.plugins.module_utils.key_vault import KeyVaultClient

# Requests in flight to Exchange when the caller names no max_concurrency.
DEFAULT_EXCHANGE_CONCURRENCY = 8


@dataclass(frozen=True)
class ConnectionOption:
    """One connection option.

    ``environment`` lists the variables the option falls back to, first set first. ``fallback_in_spec`` is
    false for an option whose variable the module applies itself (``tenant_id``: the module must know whether
    the tenant came from the task or from the environment, and may refuse the latter).
    """

    name: str
    type: str = 'str'
    default: t.Any = None
    no_log: bool = False
    environment: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    fallback_in_spec: bool = True

    def spec(self) -> dict[str, t.Any]:
        """The option's entry in an Ansible argument spec."""
        entry: dict[str, t.Any] = {'type': self.type}
        if self.default is not None:
            entry['default'] = self.default
        if self.choices:
            entry['choices'] = list(self.choices)
        # Said either way: Ansible guesses from a name with "token" or "pass" in it when no_log is left out.
        entry['no_log'] = self.no_log
        if self.environment and self.fallback_in_spec:
            entry['fallback'] = (env_fallback, list(self.environment))
        return entry


CONNECTION_OPTIONS: tuple[ConnectionOption, ...] = (
    ConnectionOption('tenant_id', environment=('AZURE_TENANT_ID',), fallback_in_spec=False),
    ConnectionOption('environment_tenant', default='allow', choices=('allow', 'refuse')),
    ConnectionOption('client_id', environment=('AZURE_CLIENT_ID',)),
    ConnectionOption('client_secret', no_log=True, environment=('AZURE_CLIENT_SECRET',)),
    ConnectionOption('client_certificate_path', type='path', environment=('AZURE_CLIENT_CERTIFICATE_PATH',)),
    ConnectionOption('client_certificate_password', no_log=True, environment=('AZURE_CLIENT_CERTIFICATE_PASSWORD',)),
    ConnectionOption('federated_token_file', type='path', environment=('AZURE_FEDERATED_TOKEN_FILE',)),
    ConnectionOption('federated_token', no_log=True),
    ConnectionOption('federated_token_request_url', environment=('ACTIONS_ID_TOKEN_REQUEST_URL',)),
    ConnectionOption('federated_token_request_token', no_log=True, environment=('ACTIONS_ID_TOKEN_REQUEST_TOKEN',)),
    ConnectionOption('federated_token_audience', default='api://AzureADTokenExchange'),
    ConnectionOption('access_token', no_log=True),
    ConnectionOption('authority_host', default='https://login.microsoftonline.com', environment=('AZURE_AUTHORITY_HOST',)),
    ConnectionOption('graph_endpoint', default='https://graph.microsoft.com', environment=('M365_GRAPH_ENDPOINT',)),
    ConnectionOption('exchange_endpoint', default='https://outlook.office365.com', environment=('M365_EXCHANGE_ENDPOINT',)),
    ConnectionOption('ca_bundle', type='path', environment=('M365_CA_BUNDLE',)),
    ConnectionOption('request_timeout', type='float', default=60.0),
    ConnectionOption('max_retries', type='int', default=5),
    ConnectionOption('max_retry_wait', type='float', default=120.0),
)

OPTIONS_BY_NAME: dict[str, ConnectionOption] = {option.name: option for option in CONNECTION_OPTIONS}

# The vault's own credential (documented in doc_fragments/key_vault.py): each option, when given, takes the place of
# the connection option of the same name without the prefix. Left out, the tenant's app signs in to the vault.
VAULT_PREFIX = 'key_vault_'
VAULT_CREDENTIAL_OPTIONS: dict[str, dict[str, t.Any]] = {
    'key_vault_tenant_id': {'type': 'str'},
    'key_vault_client_id': {'type': 'str'},
    'key_vault_client_secret': {'type': 'str', 'no_log': True},
    'key_vault_client_certificate_path': {'type': 'path'},
    'key_vault_client_certificate_password': {'type': 'str', 'no_log': True},
}
# The options of the app's own credential, left out when the vault has an app of its own.
_APP_SECRETS = ('client_secret', 'client_certificate_path', 'client_certificate_password', 'access_token')


def key_vault_argument_spec() -> dict[str, dict[str, t.Any]]:
    """The options of a module that hands credentials over to a vault (documented in doc_fragments/key_vault.py)."""
    spec: dict[str, dict[str, t.Any]] = {'key_vault_url': {'type': 'str', 'no_log': False},
                                         'key_vault_secret_lifetime': {'type': 'int', 'default': 7, 'no_log': False}}
    spec.update((name, dict(entry, no_log=entry.get('no_log', False))) for name, entry in VAULT_CREDENTIAL_OPTIONS.items())
    return spec


def vault_options(options: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The connection options the vault's credential is made of: the app's, with the ``key_vault_*`` ones given in place
    of theirs. A vault app of its own (``key_vault_client_id``) brings its own secret or certificate, or signs in with the
    pipeline's federated token like the app. An ``access_token`` is for one service and never reaches the vault."""
    found = dict(options)
    if options.get('key_vault_client_id'):
        for name in _APP_SECRETS:
            found.pop(name, None)
    found.pop('access_token', None)
    for name in VAULT_CREDENTIAL_OPTIONS:
        if _given(options.get(name)):
            found[name[len(VAULT_PREFIX):]] = options[name]
    return found


_CONVERTERS: dict[str, t.Callable[[t.Any], t.Any]] = {
    'str': check_type_str,
    'path': check_type_path,
    'bool': check_type_bool,
    'int': check_type_int,
    'float': check_type_float,
}


def argument_spec() -> dict[str, dict[str, t.Any]]:
    """The connection options as an Ansible argument spec (documented in doc_fragments/auth.py)."""
    return {option.name: option.spec() for option in CONNECTION_OPTIONS}


def _given(value: t.Any) -> bool:
    return value is not None and value != ''


def convert(option: ConnectionOption, value: t.Any) -> t.Any:
    """``value`` as the option's type, converted as Ansible converts a module argument.

    The error names the option and the type, never the value: it may be a secret.
    """
    if value is None:
        return None
    try:
        converted = _CONVERTERS[option.type](value)
    except (TypeError, ValueError):
        raise M365Error(f'The connection option {option.name} must be of type {option.type}',
                        code='invalid_configuration') from None
    if option.choices and converted not in option.choices:
        raise M365Error(f'The connection option {option.name} must be one of: {", ".join(option.choices)}',
                        code='invalid_configuration')
    return converted


def environment_value(option: ConnectionOption, environ: t.Mapping[str, str]) -> str | None:
    """The value of the first of the option's environment variables that is set and not empty."""
    return next((environ[name] for name in option.environment if environ.get(name)), None)


def connection_options(given: t.Mapping[str, t.Any], environ: t.Mapping[str, str]) -> dict[str, t.Any]:
    """Every connection option for a caller that is not a module: the given value, else the environment's,
    else the default, converted to the option's type.

    A value given as ``None`` or an empty string counts as not given, and an empty environment variable as
    unset. ``tenant_id`` comes from ``AZURE_TENANT_ID`` too, unless ``environment_tenant`` is ``refuse``.
    Keys of ``given`` that are not connection options are left out.
    """
    options: dict[str, t.Any] = {}
    from_environment: set[str] = set()
    for option in CONNECTION_OPTIONS:
        value = given.get(option.name)
        if not _given(value):
            value = environment_value(option, environ)
            if value is not None:
                from_environment.add(option.name)
            else:
                value = option.default
        options[option.name] = convert(option, value)
    if 'tenant_id' in from_environment and options['environment_tenant'] == 'refuse':
        options['tenant_id'] = None
    return options


class Connection:
    """The transport, credential and service clients of one set of connection options.

    Nothing is built, and nothing talks to a service, until a client is first used. ``options`` is read when
    a client is built, not copied: a module's parameters, or :func:`connection_options`' result.
    ``max_concurrency`` bounds the requests in flight to Exchange (else the options' ``max_concurrency``, as
    modules that take one name it, else 8). ``check_libraries`` is called before the transport is built, for a
    module to fail with Ansible's message for a missing library.
    """

    def __init__(self, options: t.Mapping[str, t.Any], *, max_concurrency: int | None = None,
                 check_libraries: t.Callable[[], None] | None = None) -> None:
        self.options = options
        self.max_concurrency = max_concurrency
        self._check_libraries = check_libraries
        self._transport: transport_mod.Transport | None = None
        self._credential: t.Any = None
        self._graph: GraphClient | None = None
        self._exchange: ExchangeClient | None = None
        self._vaults: dict[str, KeyVaultClient] = {}

    def option(self, name: str) -> t.Any:
        """An option's value; its default when the options leave it out or unset."""
        value = self.options.get(name)
        return OPTIONS_BY_NAME[name].default if value is None else value

    @property
    def transport(self) -> transport_mod.Transport:
        """The HTTP transport shared by every client of this connection."""
        if self._transport is None:
            if self._check_libraries is not None:
                self._check_libraries()
            retry = transport_mod.RetryPolicy(
                max_attempts=max(1, int(self.option('max_retries')) + 1),
                max_total_wait=max(0.0, float(self.option('max_retry_wait'))),
            )
            self._transport = transport_mod.Transport(
                verify=self.option('ca_bundle') or True,
                timeout=self.option('request_timeout'),
                retry=retry,
            )
        return self._transport

    @property
    def credential(self) -> t.Any:
        """The credential chosen from the options, validated before its first use."""
        if self._credential is None:
            credential = auth_mod.credential_from_options(dict(self.options), self.transport)
            credential.validate()
            self._credential = credential
        return self._credential

    @property
    def graph(self) -> GraphClient:
        """Microsoft Graph client."""
        if self._graph is None:
            self._graph = GraphClient(self.transport, self.credential, self.option('graph_endpoint'))
        return self._graph

    @property
    def exchange(self) -> ExchangeClient:
        """Exchange Online admin client for the options' tenant."""
        if self._exchange is None:
            # Exchange throttles per tenant: requests in flight start at 4 and adapt (fewer on 429, more
            # while it answers), never past max_concurrency.
            maximum = self.max_concurrency or self.options.get('max_concurrency') or DEFAULT_EXCHANGE_CONCURRENCY
            self.transport.limit('exchange', maximum=maximum)
            self._exchange = ExchangeClient(self.transport, self.credential, self.options.get('tenant_id'),
                                            self.option('exchange_endpoint'))
        return self._exchange

    def key_vault(self, url: str) -> KeyVaultClient:
        """The client of the vault at ``url``, signed in with :func:`vault_options` (over the same transport)."""
        if url not in self._vaults:
            options = vault_options(self.options)
            credential = auth_mod.credential_from_options(options, self.transport)
            credential.validate()
            self._vaults[url] = KeyVaultClient(self.transport, credential, url, options.get('tenant_id'))
        return self._vaults[url]

    def tenant_guid(self, service: str = 'graph') -> str | None:
        """The GUID of the tenant acted on (the ``tid`` of the token for ``service``, graph or exchange, so
        that no other token is asked for), else the tenant as named."""
        client = self.exchange if service == 'exchange' else self.graph
        found = self.credential.tenant_guid(client.resource)
        return found.lower() if found else self.options.get('tenant_id')

    def close(self) -> None:
        """Close the transport's connections, when it was built."""
        if self._transport is not None:
            self._transport.close()
