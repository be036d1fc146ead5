# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared documentation of the modules that read or change users: which users, which never, failing at the end, concurrency."""

from __future__ import annotations


class ModuleDocFragment:
    """Options written once for the modules that read or change users or their mailboxes."""

    # The users a module works on: every module that reads or changes users.
    DOCUMENTATION = r"""
options:
  users:
    description:
      - The users, by user principal name, object id or any of their SMTP addresses.
    type: list
    elements: str
    required: true
"""

    # What the modules that change users take besides (m365ops.remediation.users.write).
    WRITE = r"""
options:
  protected:
    description:
      - Accounts that are never touched, by UPN, SMTP address or object id.
    type: list
    elements: str
    default: []
  continue_on_error:
    description:
      - When V(false), the task fails at the end if any user (or address) failed (the others are still done).
    type: bool
    default: false
"""

    # How many Exchange cmdlets run at once (m365ops.remediation.users.concurrency): one default for every module.
    CONCURRENCY = r"""
options:
  max_concurrency:
    description:
      - How many Exchange requests run at once, at the most. The collection starts lower and adapts to the
        tenant's throttling, so this is a ceiling, not a target.
    type: int
    default: 8
"""
