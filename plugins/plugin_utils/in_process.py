# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The action behind every module of the collection: run the module inside Ansible's worker when it may.

A task of this collection talks HTTPS to Microsoft 365; it runs on the controller (``connection: local``).
Shipping it as a module there starts a Python, unpacks the module and imports ``requests`` and ``msal``:
about half a second of CPU per task and tenant, which is most of a run's cost. When the task targets the
controller itself, this action runs the very same module code inside the worker process instead, through
the same entry point, argument handling and result checks as a shipped module (``AnsibleModule`` reads
its arguments, masks ``no_log`` values and prints its result, which is parsed as a module's output).
The libraries are imported once, when the controller loads this action, and every worker inherits them.

Anything else (a remote or become connection, ``async``, another Python chosen for the host, an
ansible-core without the interfaces used here, ``m365_in_process: false``) runs the module the usual way.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import typing as t

from ansible.module_utils import basic
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.utils.vars import merge_hash

# Imported here, in the controller, so that every worker forked from it already holds them.
from ansible_collections.m365ops.remediation.plugins.module_utils import base as _base
from ansible_collections.m365ops.remediation.plugins.module_utils import auth, transport

try:
    from ansible.module_utils.common.json import Direction, get_module_encoder
    from ansible.vars.clean import remove_internal_keys
    HAS_INTERFACES = hasattr(basic, '_ANSIBLE_PROFILE')
except ImportError:  # ansible-core before 2.19: the modules are shipped as usual
    HAS_INTERFACES = False

COLLECTION = 'm365ops.remediation'
# Our modules declare no serialization profile: Ansible's default for Python modules.
PROFILE = 'legacy'
AUTO_INTERPRETERS = frozenset(('auto', 'auto_legacy', 'auto_silent', 'auto_legacy_silent'))


class InProcessAction(NormalAction):
    """Runs this collection's module in the worker when the task targets the controller, else ships it."""

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        why_not = self.in_process_refusal(task_vars)
        if why_not:
            self._display.vvvv(f'{self._task.resolved_action}: shipped as a module ({why_not})')
            return super().run(tmp, task_vars)
        result = super(NormalAction, self).run(tmp, task_vars)  # pylint: disable=bad-super-call
        return merge_hash(result, self._run_in_process(task_vars))

    def in_process_refusal(self, task_vars: dict[str, t.Any]) -> str:
        """Why this task must run as a shipped module; empty when it may run in this process."""
        if not HAS_INTERFACES:
            return 'this ansible-core has no in-process interfaces'
        if not boolean(self._templar.template(task_vars.get('m365_in_process', True)), strict=False):
            return 'm365_in_process is false'
        if not str(self._task.resolved_action or '').startswith(COLLECTION + '.'):
            return 'not a module of this collection'
        if getattr(self._connection, 'transport', None) != 'local':
            return 'the connection is not local'
        if self._task.async_val:
            return 'async'
        if self._play_context.become:
            return 'become'
        if not (transport.HAS_REQUESTS and auth.HAS_MSAL):
            return 'the controller lacks requests or msal'
        interpreter = self._templar.template(task_vars.get('ansible_python_interpreter', 'auto'))
        if interpreter not in AUTO_INTERPRETERS and not _same_python(str(interpreter)):
            return f'the host uses another Python ({interpreter})'
        return ''

    def _run_in_process(self, task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
        module_name = self._task.resolved_action
        module_args = dict(self._task.args)
        self._update_module_args(module_name, module_args, task_vars)
        environment: dict[str, t.Any] = {}
        self._compute_environment_string(raw_environment_out=environment)
        encoder = get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)
        params = json.dumps(dict(ANSIBLE_MODULE_ARGS=module_args), cls=encoder).encode()
        self._display.vvv(f'Running {module_name} in the worker process')
        # This worker runs this one task and exits: what the module changes here (its arguments, the
        # environment of the task) goes with it.
        os.environ.update({str(k): str(v) for k, v in environment.items()})
        namespace, name = module_name.rsplit('.', 1)
        output, rc = run_main(f'ansible_collections.{namespace}.plugins.modules.{name}', params, _secrets(module_args))
        data = self._parse_returned_data(dict(stdout=output, stderr='', rc=rc), PROFILE)
        data.pop('_ansible_suppress_tmpdir_delete', None)
        remove_internal_keys(data)
        return data


def run_main(module: str, params: bytes, secrets: t.Collection[str] = ()) -> tuple[str, int]:
    """Run the module's ``main()`` here, given its arguments as AnsiballZ gives them; its output and exit code.

    A module prints its result and exits. One that returns, or raises, fails the way a shipped module's
    wrapper would report it: the error without locals, with ``secrets`` masked should the message quote one.
    """
    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = params, PROFILE  # pylint: disable=protected-access
    basic._PARSED_MODULE_ARGS = None  # pylint: disable=protected-access
    printed = io.StringIO()
    failure, rc = '', 0
    with contextlib.redirect_stdout(printed):
        try:
            importlib.import_module(module).main()
            failure = f'{module} returned without a result'
        except SystemExit as done:
            rc = done.code if isinstance(done.code, int) else 1
        except Exception as error:  # pylint: disable=broad-exception-caught
            failure = remove_values(f'{module} failed: {type(error).__name__}: {error}', set(secrets))
    if failure:
        return json.dumps(dict(failed=True, msg=failure)), 1
    return printed.getvalue(), rc


def _secrets(module_args: dict[str, t.Any]) -> set[str]:
    """The values of the connection options that are secret."""
    return {str(module_args[name]) for name, spec in _base.auth_argument_spec().items()
            if spec.get('no_log') and module_args.get(name)}


def _same_python(interpreter: str) -> bool:
    """True when the host's interpreter is this very Python (the playbooks set ansible_playbook_python)."""
    try:
        return os.path.samefile(interpreter, sys.executable) or os.path.realpath(interpreter) == os.path.realpath(sys.executable)
    except OSError:
        return False
