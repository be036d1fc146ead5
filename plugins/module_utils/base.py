# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The module base class: shared options, lazily built clients, errors turned into fail_json."""

from __future__ import annotations

import os
import typing as t

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import transport as transport_mod
from ansible_collections.m365ops.remediation.plugins.module_utils import auth as auth_mod
from ansible_collections.m365ops.remediation.plugins.module_utils import connection as connection_mod
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import GraphClient
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import ExchangeClient


def auth_argument_spec() -> dict[str, dict[str, t.Any]]:
    """The connection options every module takes (the table in connection.py, documented in doc_fragments/auth.py)."""
    return connection_mod.argument_spec()


class _MaskingModule(AnsibleModule):
    """An AnsibleModule that, whichever way it exits, masks the protected values its result holds.

    Ansible's own masking (``no_log_values``) tries every value on every string of the result, which for
    a thousand generated passwords and a thousand users' results costs seconds. So the values are kept
    aside, and only those that occur in the result (one scan of its text per value) are handed to it.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self.protected: set[str] = set()
        super().__init__(*args, **kwargs)

    def _mask(self, result: dict[str, t.Any]) -> None:
        if self.protected:
            text = '\0'.join(_strings(result))
            self.no_log_values.update(value for value in self.protected if value in text)

    def exit_json(self, **kwargs: t.Any) -> t.NoReturn:
        self._mask(kwargs)
        super().exit_json(**kwargs)

    def fail_json(self, msg: str, **kwargs: t.Any) -> t.NoReturn:  # pylint: disable=arguments-differ
        self._mask(dict(kwargs, msg=msg))
        super().fail_json(msg, **kwargs)


NO_TENANT_NAMED = ("No tenant named for this host: set tenant_id (the inventory variable m365_tenant_id with the collection's playbook); "
                   "the environment's AZURE_TENANT_ID may serve only a play with one tenant host")


class M365Module:
    """An AnsibleModule with the collection's connection options and clients.

    Nothing talks to a service until a client property is first used, so argument validation and
    check-mode decisions happen before any request.
    """

    def __init__(self, argument_spec: dict[str, t.Any], **kwargs: t.Any) -> None:
        spec = auth_argument_spec()
        spec.update(argument_spec)
        kwargs.setdefault('supports_check_mode', True)
        self.module = _MaskingModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        # Where the tenant was named: the tenant_id option, or the environment (refused, before any request,
        # with environment_tenant=refuse: a play of several tenant hosts).
        self.tenant_source = 'option' if self.params['tenant_id'] else None
        if not self.params['tenant_id']:
            if self.params['environment_tenant'] == 'refuse':
                self.module.fail_json(msg=NO_TENANT_NAMED)
            self.params['tenant_id'] = connection_mod.environment_value(connection_mod.OPTIONS_BY_NAME['tenant_id'], os.environ)
            self.tenant_source = 'environment' if self.params['tenant_id'] else None
        # Built from the parameters themselves, so that the clients see them as the module leaves them.
        self.connection = connection_mod.Connection(self.params, check_libraries=self._require_libraries)

    @property
    def check_mode(self) -> bool:
        """True when the task runs in check mode: no write request may be sent."""
        return bool(self.module.check_mode)

    @property
    def diff_mode(self) -> bool:
        """True when the task asked for a diff."""
        return bool(self.module._diff)  # pylint: disable=protected-access

    def protect(self, *values: str | None) -> None:
        """Register values that must never reach output (generated passwords, tokens): masked wherever
        they occur in the result, however the module exits."""
        self.module.protected.update(value for value in values if value)

    def _require_libraries(self) -> None:
        if not transport_mod.HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib('requests'), exception=transport_mod.REQUESTS_IMPORT_ERROR)
        if not auth_mod.HAS_MSAL:
            self.module.fail_json(msg=missing_required_lib('msal'), exception=auth_mod.MSAL_IMPORT_ERROR)

    @property
    def transport(self) -> t.Any:
        """The HTTP transport shared by every client of this module run."""
        return self.connection.transport

    @property
    def credential(self) -> t.Any:
        """The credential chosen from the options, validated before its first use."""
        return self.connection.credential

    @property
    def graph(self) -> GraphClient:
        """Microsoft Graph client."""
        return self.connection.graph

    @property
    def exchange(self) -> ExchangeClient:
        """Exchange Online admin client for the module's tenant (at most the module's max_concurrency
        requests in flight, when it takes that option)."""
        return self.connection.exchange

    def tenant_guid(self, service: str = 'graph') -> str | None:
        """The GUID of the tenant this module acts on (the ``tid`` of its token for ``service``, graph or exchange,
        so that no other token is asked for), else the tenant as named."""
        return self.connection.tenant_guid(service)

    def fail_from_error(self, error: M365Error, **result: t.Any) -> t.NoReturn:
        """Fail the task with every field of the service error."""
        self.module.fail_json(msg=str(error), error=error.to_dict(), **result)

    def run(self, work: t.Callable[[], dict[str, t.Any]]) -> None:
        """Run the module's work and exit with its result, turning a service error into a clear failure."""
        try:
            result = work()
        except M365Error as error:
            self.fail_from_error(error)
        if result.get('failed'):
            result.pop('failed')
            self.module.fail_json(**result)
        self.module.exit_json(**result)


def _strings(value: t.Any) -> t.Iterator[str]:
    """Every string in a result, keys too (Ansible masks values only: searching keys as well finds a superset)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)
