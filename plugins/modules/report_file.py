#!/usr/bin/python
# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: report_file
short_description: Write a report as a private file on the controller
version_added: 0.1.0
description:
  - Writes a document to a file readable only by its owner (mode 0600), atomically (a new file, then a
    rename), never through a symbolic link. The folder is created with mode 0700 when missing.
  - The P(m365ops.remediation.unblock_email#role) role writes its per-tenant reports with it. It runs as an
    action on the controller, so that writing a report costs no module run.
  - A report is the record of a run, not state to manage, so the task always reports no change, and it
    writes in check mode too.
author:
  - m365ops maintainers (@m365ops)
options:
  path:
    description:
      - The file to write.
    type: path
    required: true
  content:
    description:
      - The document to write. A string is written as it is (for example a Markdown summary); anything else
        is written as JSON.
    type: raw
    required: true
  append:
    description:
      - Add O(content) at the end of the file instead of replacing it (anything but a string as one line of
        JSON), in one write under an exclusive lock, so that several tasks may append to one file at once.
        The file is created with mode 0600 when missing. For an index of runs, for example.
    type: bool
    default: false
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Writes in check mode too, as the report says what a run would do.
  diff_mode:
    support: none
  platform:
    platforms: posix
  idempotent:
    description: Run again with the same options, the module reports no change.
    support: full
    details: Always reports no change; the file holds the latest report (with O(append), every report appended).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
"""

EXAMPLES = r"""
- name: Keep a tenant's report
  m365ops.remediation.report_file:
    path: /var/lib/m365ops/reports/contoso.json
    content: "{{ report }}"

- name: Add a line to an index of runs
  m365ops.remediation.report_file:
    path: /var/lib/m365ops/reports/index.jsonl
    content: "{{ {'run': run_id, 'failed': failed} | to_json }}\n"
    append: true
"""

RETURN = r"""
path:
  description: The file written.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import secure_file


def main() -> None:
    """Write the report when run as a module (the action plugin does the same without a module run)."""
    module = AnsibleModule(dict(path=dict(type='path', required=True), content=dict(type='raw', required=True),
                                append=dict(type='bool', default=False)),
                           supports_check_mode=True)
    try:
        secure_file.write_report(module.params['path'], module.params['content'], append=module.params['append'])
    except (M365Error, OSError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, path=module.params['path'])


if __name__ == '__main__':
    main()
