# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The steps of the unblock_email role: the one place that names them, in the order they run.

Each step is one module call for all the tenant's users at once. Its entry says which module, which role
variable turns it on (its *switch*) and with what default, what the module is given per user, how its result
reads, and the words the readable summary gives it in each language. Everything else follows from this table:

- the plan (``unblock.plan``) has the steps in this order, and the report's ``steps``, its users' ``steps``
  and the summary's columns with it;
- the role takes each step before the unblock with a task file of its own, ``tasks/steps/<name>.yml``, imported in
  this order, which runs the module for the step's users still to do and registers its result as
  ``_unblock_email_<name>`` (``register``); the last step, the unblock, runs on the plan once the others' results
  are folded in (``tasks/remediate.yml``);
- the role's README, its argument specs and its defaults document each switch with the same default
  (``tests/unit/test_collection.py`` checks them against this table).

Python rather than a data file so that the filters read it without I/O and the tests import it; plain classes
rather than dataclasses, as every worker process that renders a filter imports this file.
"""

from __future__ import annotations

import typing as t

# The languages of the readable summary (plugins/plugin_utils/unblock_words/<language>.yml).
LANGUAGES = ('en', 'nl', 'nb')

# What a step's module is given for each user: the user's object id, or the address the account is restricted by.
BY_ID = 'id'
BY_ADDRESS = 'address'

_TRUE = frozenset(('yes', 'on', 'true', '1'))


def _truthy(value: t.Any) -> bool:
    """A boolean switch as Ansible's ``bool`` filter reads it (``-e name=true`` gives a string)."""
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def _not_keep(value: t.Any) -> bool:
    return str(value).strip().lower() != 'keep'


def _not_empty(value: t.Any) -> bool:
    return bool(value)


class Words:
    """A step in one language: its column in the summary, the column in check mode, and, for a step that looks
    for something to clear, what it says when it found nothing."""

    __slots__ = ('name', 'check', 'none_found')

    def __init__(self, name: str, check: str, none_found: str | None = None) -> None:
        self.name = name
        self.check = check
        self.none_found = none_found


class Gate:
    """A step already done when the user's ``since`` (a time ``user_info`` reports) is at or after the moment the
    account was restricted; ``already`` says so, with that time in place of ``%s``."""

    __slots__ = ('since', 'already')

    def __init__(self, since: str, already: str) -> None:
        self.since = since
        self.already = already


class Step:
    """One step of the role (see the module's docstring).

    ``name``: the step's key in the plan, in ``unblock_todo``, in the module results folded in, in each user's
    ``steps`` of the report, and the name of its task file (tasks/steps/<name>.yml).
    ``module``: the module its task runs (m365ops.remediation.<module>).
    ``does``: what the role does in this step, as its documentation (the argument specs' description) says it.
    ``switch``, ``default``, ``turns_on``: the role variable that turns the step on, its default, and whether a
    value of it turns the step on; no switch: always on.
    ``always``: the step is in every plan, "skipped: turned off" when its switch is off; otherwise a containment
    step, in the plan only when it is on.
    ``target``: what its module is given for each user (BY_ID or BY_ADDRESS).
    ``gate``: already done when the user changed since the block, rather than to do (the password, the sessions).
    ``finding``: a result without change means there was nothing to clear (``none_found``), not "already done".
    ``telling``: its message says what it found or did, worth showing in the summary's details when it was done.
    ``counted``: the key of the report's ``counts`` that counts the users it acted on (a column of the totals).
    ``keeps``: keys of its per-user result copied onto the user of the plan and the report.
    ``cleans_mailbox``: a user remediated without it gets the advice to check the mailbox by hand.
    ``words``: its words, per language (LANGUAGES).
    """

    __slots__ = ('name', 'module', 'does', 'switch', 'default', 'turns_on', 'always', 'target', 'gate', 'finding', 'telling',
                 'counted', 'keeps', 'cleans_mailbox', 'words')

    def __init__(self, name: str, module: str, does: str, switch: str | None = None, default: t.Any = None,
                 turns_on: t.Callable[[t.Any], bool] = _truthy, always: bool = False, target: str = BY_ID,
                 gate: Gate | None = None, finding: bool = False, telling: bool = False, counted: str | None = None,
                 keeps: tuple[str, ...] = (), cleans_mailbox: bool = False, words: t.Mapping[str, Words] | None = None) -> None:
        self.name = name
        self.module = module
        self.does = does
        self.switch = switch
        self.default = default
        self.turns_on = turns_on
        self.always = always
        self.target = target
        self.gate = gate
        self.finding = finding
        self.telling = telling
        self.counted = counted
        self.keeps = keeps
        self.cleans_mailbox = cleans_mailbox
        self.words = words or {}

    def __repr__(self) -> str:
        return 'Step(%r, %r)' % (self.name, self.module)

    @property
    def opt_in(self) -> bool:
        """Off unless asked for."""
        return self.switch is not None and not self.turns_on(self.default)

    @property
    def register(self) -> str:
        """The variable the role's task registers the module's result in."""
        return '_unblock_email_' + self.name

    def is_on(self, settings: t.Mapping[str, t.Any] | None = None) -> bool:
        """Whether the role variables in ``settings`` turn the step on (a switch not given keeps its default)."""
        if self.switch is None:
            return True
        settings = settings or {}
        return self.turns_on(settings[self.switch] if self.switch in settings else self.default)


STEPS: tuple[Step, ...] = (
    # Regain control first: the password, then the sessions, then the opt-in sign-in block and removal of
    # authentication methods.
    Step('password', 'user_password', 'resets their passwords', switch='unblock_email_reset_password', default=True, always=True,
         gate=Gate('last_password_change', 'password already changed at %s, after the block'), counted='password_reset',
         keeps=('credential',),
         words={'en': Words('Password reset', 'Would reset password'),
                'nl': Words('Wachtwoord opnieuw ingesteld', 'Wachtwoord zou opnieuw worden ingesteld'),
                'nb': Words('Passord tilbakestilt', 'Ville tilbakestilt passord')}),
    Step('sessions', 'user_sessions', 'revokes their sign-in sessions', switch='unblock_email_revoke_sessions', default=True, always=True,
         gate=Gate('sign_in_sessions_valid_from', 'sessions already revoked at %s, after the block'), counted='sessions_revoked',
         words={'en': Words('Sessions revoked', 'Would revoke sessions'),
                'nl': Words('Sessies ingetrokken', 'Sessies zouden worden ingetrokken'),
                'nb': Words('Økter tilbakekalt', 'Ville tilbakekalt økter')}),
    Step('sign_in', 'user_sign_in', 'blocks sign-in', switch='unblock_email_block_sign_in', default=False, telling=True,
         words={'en': Words('Sign-in blocked', 'Would block sign-in'),
                'nl': Words('Aanmelden geblokkeerd', 'Aanmelden zou worden geblokkeerd'),
                'nb': Words('Pålogging blokkert', 'Ville blokkert pålogging')}),
    Step('auth_methods', 'user_auth_method', 'removes the multifactor methods registered since the compromise',
         switch='unblock_email_remove_auth_methods', default=False, finding=True, telling=True,
         words={'en': Words('MFA methods removed', 'Would remove MFA methods', 'no new method'),
                'nl': Words('MFA-methoden verwijderd', 'MFA-methoden zouden worden verwijderd', 'geen nieuwe methode'),
                'nb': Words('MFA-metoder fjernet', 'Ville fjernet MFA-metoder', 'ingen ny metode')}),
    # Then clean the mailbox.
    Step('forwarding', 'mailbox_forwarding', "removes the mailboxes' forwarding", switch='unblock_email_clear_forwarding', default=True,
         finding=True, telling=True, cleans_mailbox=True,
         words={'en': Words('Forwarding removed', 'Would remove forwarding', 'no forwarding'),
                'nl': Words('Doorsturen verwijderd', 'Doorsturen zou worden verwijderd', 'geen doorsturen'),
                'nb': Words('Videresending fjernet', 'Ville fjernet videresending', 'ingen videresending')}),
    Step('inbox_rules', 'inbox_rule', 'disables suspicious inbox rules', switch='unblock_email_inbox_rules', default='disabled',
         turns_on=_not_keep, finding=True, telling=True, cleans_mailbox=True,
         words={'en': Words('Inbox rules', 'Would clean inbox rules', 'no suspicious rule'),
                'nl': Words('Inboxregels', 'Inboxregels zouden worden opgeschoond', 'geen verdachte regel'),
                'nb': Words('Innboksregler', 'Ville ryddet innboksregler', 'ingen mistenkelig regel')}),
    Step('protocols', 'mailbox_protocols', 'turns off mail protocols', switch='unblock_email_disable_protocols', default=[],
         turns_on=_not_empty, telling=True,
         words={'en': Words('Protocols off', 'Would turn protocols off'),
                'nl': Words('Protocollen uit', 'Protocollen zouden worden uitgezet'),
                'nb': Words('Protokoller av', 'Ville slått av protokoller')}),
    # Last, once every step before it is done, already done or off: the unblock.
    Step('unblock', 'restricted_user', 'unblocks only the accounts under control', always=True, target=BY_ADDRESS,
         counted='unblocked', keeps=('unblocked_at', 'sending_expected_by', 'sending_expected_at_latest'),
         words={'en': Words('Unblocked', 'Would unblock'),
                'nl': Words('Gedeblokkeerd', 'Zou worden gedeblokkeerd'),
                'nb': Words('Blokkering opphevet', 'Ville opphevet blokkering')}),
)

BY_NAME: dict[str, Step] = {step.name: step for step in STEPS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
# The step that runs last, on the plan with every other step's result folded in.
UNBLOCK = STEPS[-1].name
# The steps in every plan, and the containment steps, in the plan only when turned on.
ALWAYS: tuple[str, ...] = tuple(step.name for step in STEPS if step.always)
CONTAINMENT: tuple[str, ...] = tuple(step.name for step in STEPS if not step.always)


def get(name: str) -> Step:
    """The step named ``name``."""
    return BY_NAME[name]


def turned_on(settings: t.Mapping[str, t.Any] | None = None) -> list[str]:
    """The steps the role variables in ``settings`` turn on, in order (a switch not given keeps its default)."""
    return [step.name for step in STEPS if step.is_on(settings)]


def planned(on: t.Iterable[str]) -> list[str]:
    """The steps of a plan, in order: those in every plan, and the containment steps in ``on``."""
    on = set(on)
    return [step.name for step in STEPS if step.always or step.name in on]


def as_data(settings: t.Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
    """Every step, in order, as the role reads it: its name, module, switch and its default, whether it is opt-in,
    whether ``settings`` turn it on, and the variable its task registers its result in."""
    return [{'name': step.name, 'module': step.module, 'switch': step.switch, 'default': step.default, 'opt_in': step.opt_in,
             'on': step.is_on(settings), 'register': step.register} for step in STEPS]
