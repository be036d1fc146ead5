# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs the user_password module in Ansible's worker when the task targets the controller (plugin_utils/in_process.py).

With ``password_file_encrypt``, it first hands the module the vault secret of the run (``--vault-id``,
``--vault-password-file``, an AWX Vault credential) that keeps the password file encrypted, as the no_log option
``password_file_vault_password``: the module itself never sees Ansible's vault secrets otherwise.
"""

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.m365ops.remediation.plugins.plugin_utils.in_process import InProcessAction


class ActionModule(InProcessAction):
    """See the user_password module's documentation."""

    def run(self, tmp=None, task_vars=None):
        args = self._task.args
        if boolean(args.get('password_file_encrypt', False), strict=False) and not args.get('password_file_vault_password'):
            wanted = args.get('password_file_vault_id')
            secrets = list(getattr(getattr(self._loader, '_vault', None), 'secrets', None) or [])
            found = [secret for vault_id, secret in secrets if not wanted or vault_id == wanted]
            if not found:
                return dict(failed=True, changed=False, msg=(
                    'password_file_encrypt needs a vault secret of the run%s: give it with --vault-id or --vault-password-file '
                    '(in AWX, a Vault credential on the job template); nothing was changed'
                    % (' with the vault id %s' % wanted if wanted else '')))
            self._task.args = dict(args, password_file_vault_password=found[0].bytes.decode('utf-8'))
        return super().run(tmp, task_vars)
