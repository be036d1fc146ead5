# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Writes the report on the controller itself: no module run, which matters once per tenant."""

from __future__ import annotations

import os

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import secure_file


class ActionModule(ActionBase):
    """See the report_file module's documentation."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('path', 'content', 'append'))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        if not args.get('path') or 'content' not in args:
            return dict(result, failed=True, msg='report_file needs path and content')
        path = os.path.expanduser(str(args['path']))
        try:
            append = boolean(args.get('append', False), strict=True)
        except TypeError as error:
            return dict(result, failed=True, msg='append: %s' % error)
        try:
            secure_file.write_report(path, args['content'], append=append)
        except (M365Error, OSError) as error:
            return dict(result, failed=True, msg=str(error))
        return dict(result, changed=False, path=path)
