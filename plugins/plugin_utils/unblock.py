# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The decisions of the unblock_email role, as plain functions over module results (no I/O; controller only).

A *plan* is a list of per-user items. Each item has ``steps`` in the order of the step registry
(``steps.py``), which is Microsoft's: regain control (``password``, ``sessions``, and the opt-in ``sign_in``
and ``auth_methods``), clean the mailbox (``forwarding``, ``inbox_rules``, opt-in ``protocols``), then
``unblock``; only the steps turned on are there (the password and sessions steps always are, "skipped: turned
off" when off). Each step is ``{"status", "msg"}`` with status one of

- ``todo``: to be done by the next step of the role;
- ``done`` / ``would_do`` (check mode): done by this run;
- ``already_done``: nothing to do, it was done after the account was restricted (or by an earlier run);
- ``none_found``: nothing to do, there was nothing to clear (no forwarding, no suspicious rule, no new method);
- ``skipped``: not done on purpose (protected account, not restricted, step turned off, earlier step failed);
- ``failed``: tried (or could not be tried) and failed, with the reason.

Each user gets one *outcome*: ``remediated``, ``would_remediate`` (check mode), ``already_remediated``,
``not_restricted`` (not on the list, nothing to do), ``skipped`` (protected account) or ``failed``.
"""

from __future__ import annotations

import ast
import json
import typing as t

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.plugin_utils import steps as registry

# The steps in every plan, in order (the unblock last).
STEPS = registry.ALWAYS
# Steps the role can add before the unblock, in Microsoft's order.
CONTAINMENT = registry.CONTAINMENT
UNBLOCK = registry.UNBLOCK
# What a step's module result adds to the user (the unblock's times), kept in the report.
KEPT = tuple(key for step in registry.STEPS for key in step.keeps)
REPORTED = ('user', 'user_principal_name', 'id', 'address', 'protected', 'restricted', 'restricted_at', 'reason_details') + KEPT
# The report's counts of users a step acted on (password_reset, sessions_revoked, unblocked), in the steps' order.
STEP_COUNTS = tuple((step.counted, step.name) for step in registry.STEPS if step.counted)
OUTCOME_COUNTS = ('already_remediated', 'not_restricted', 'skipped', 'failed')
COUNTED = ('users',) + tuple(count for count, dummy in STEP_COUNTS) + OUTCOME_COUNTS
FINAL = ('done', 'would_do', 'already_done', 'none_found', 'skipped', 'failed')
# Containment steps whose "no change" means there was nothing to clear, rather than "already done".
FINDING = tuple(step.name for step in registry.STEPS if step.finding)
# Statuses that leave nothing to do.
NOTHING_TO_DO = ('already_done', 'none_found')
NOT_RESTRICTED = 'not on the Restricted Users list: nothing to do'


def _step(status: str, msg: str) -> dict[str, str]:
    return {'status': status, 'msg': msg}


def step_names(containment: t.Iterable[str] = ()) -> list[str]:
    """The steps of a plan, in order, with the containment steps that are turned on."""
    containment = list(containment)
    unknown = set(containment) - set(CONTAINMENT)
    if unknown:
        raise ValueError('unknown step(s): %s; known: %s' % (', '.join(sorted(unknown)), ', '.join(CONTAINMENT)))
    return registry.planned(containment)


def _turned_on(reset_password: bool, revoke_sessions: bool, containment: t.Iterable[str],
               settings: t.Mapping[str, t.Any] | None) -> set[str]:
    """The steps turned on: by the role variables in ``settings`` when given, else by the three arguments."""
    if settings is not None:
        return set(registry.turned_on(settings))
    off = {name for name, enabled in (('password', reset_password), ('sessions', revoke_sessions)) if not enabled}
    return set(step_names(containment)) - off


def earlier_runs(earlier: t.Any) -> dict[str, str | None]:
    """Lower-case SMTP address -> ISO time of the earlier run that unblocked it (None when not known).

    Takes a mapping, a list of addresses, their JSON text, or nothing.
    """
    if isinstance(earlier, str):
        text = earlier.strip()
        if text[:1] in ('{', '['):
            try:
                earlier = json.loads(text)
            except ValueError:  # a Python literal, as a template may give it
                earlier = ast.literal_eval(text)
        else:
            earlier = [text]
    if not earlier:
        return {}
    if isinstance(earlier, dict):
        pairs: t.Iterable[tuple[t.Any, t.Any]] = earlier.items()
    else:
        pairs = ((address, None) for address in earlier)
    out: dict[str, str | None] = {}
    for address, when in pairs:
        key = str(address).strip().lower()
        if key:
            out[key] = str(when) if when else None
    return out


def _remediated_earlier(candidates: t.Iterable[t.Any], earlier: dict[str, str | None]) -> tuple[bool, str | None]:
    """Whether any of a user's addresses was unblocked by an earlier run, and the latest time known."""
    found, times = False, []
    for address in candidates:
        key = str(address or '').strip().lower()
        if key in earlier:
            found = True
            if earlier[key]:
                times.append(earlier[key])
    return found, (max(times) if times else None)


def plan(users: list[dict[str, t.Any]], entries: list[dict[str, t.Any]], protected: t.Iterable[str] = (),
         reset_password: bool = True, revoke_sessions: bool = True, containment: t.Iterable[str] = (),
         earlier: t.Any = None, settings: t.Mapping[str, t.Any] | None = None, ungated: t.Iterable[str] = ()) -> list[dict[str, t.Any]]:
    """What to do for each user (``user_info`` results) given the Restricted Users list (``restricted_user_info`` entries).

    The steps turned on are given by ``reset_password``, ``revoke_sessions`` and ``containment``, or, with
    ``settings`` (the role's variables by name), by each step's switch as the step registry names it.

    A user is matched to the list by any of its SMTP addresses. The password and sessions steps are gated
    on the moment the account was restricted, so that a re-run does not reset again; the containment
    steps are idempotent by themselves (a mailbox without forwarding has nothing to clear).

    ``earlier`` maps the lower-case SMTP addresses an earlier run of this collection unblocked in this
    tenant to the time of that run (or lists them): a user off the list with one of them is already
    remediated, any other user off the list has nothing to do.

    A step named in ``ungated`` is to do whatever its gate says: its module decides (the password step with a
    Temporary Access Pass asked for, whose module also tells whether a pass was issued since the block).
    """
    on = _turned_on(reset_password, revoke_sessions, containment, settings)
    names = registry.planned(on)
    before = earlier_runs(earlier)

    def _all_steps(status: str, msg: str) -> dict[str, dict[str, str]]:
        return {name: _step(status, msg) for name in names}

    listed = {e['address']: e for e in entries}
    shielded = {str(p).strip().lower() for p in protected if str(p).strip()}
    items = []
    for user in users:
        given = str(user.get('user', ''))
        item: dict[str, t.Any] = {
            'user': given,
            'id': user.get('id'),
            'user_principal_name': user.get('user_principal_name'),
            'address': rem.normalize_address(given) if not user.get('found') else user.get('primary_smtp_address'),
            'restricted': False,
            'restricted_at': None,
            'reason_details': {},
        }
        identities = set(user.get('addresses') or ()) | {given.lower(), str(user.get('id') or '').lower()}
        entry = None
        for address in [user.get('primary_smtp_address')] + sorted(user.get('addresses') or ()):
            if address in listed:
                entry = listed[address]
                break
        if entry is None and item['address'] in listed:
            entry = listed[item['address']]
        if entry is not None:
            item.update(address=entry['address'], restricted=True, restricted_at=entry.get('created'),
                        reason_details=entry.get('reason_details') or {})
        item['protected'] = bool(identities & shielded)
        if item['protected']:
            item['steps'] = _all_steps('skipped', 'protected account: never touched')
        elif not user.get('found'):
            why = user.get('msg') or 'user not found'
            if entry is not None:
                why = 'no Entra ID user has this address, so its password cannot be reset; it stays blocked'
            item['steps'] = _all_steps('failed', why)
        elif entry is None:
            found, when = _remediated_earlier([user.get('primary_smtp_address'), item['address'], given]
                                              + list(user.get('addresses') or ()), before) if before else (False, None)
            if found:
                item['steps'] = _all_steps('already_done', 'remediated by an earlier run' + (' at %s' % when if when else ''))
            else:
                item['steps'] = _all_steps('skipped', NOT_RESTRICTED)
        else:
            item['steps'] = {name: _first(registry.get(name), name in on, user, item['restricted_at'], name in ungated)
                             for name in names}
            if user.get('on_premises_sync_enabled') and item['steps']['password']['status'] == 'todo':
                item['steps']['password'] = _step('failed', 'synchronised from on-premises Active Directory: reset the password '
                                                            'in Active Directory, then run again')
        items.append(item)
    return block_unsafe_unblocks(items)


def _first(step: registry.Step, enabled: bool, user: dict[str, t.Any], restricted_at: t.Any, ungated: bool = False) -> dict[str, str]:
    """A step of a restricted user before anything ran: to do, turned off, or (a gated step) already done since the block."""
    if not enabled:
        return _step('skipped', 'turned off')
    if step.gate is None or ungated or rem.reset_needed(user.get(step.gate.since), restricted_at):
        return _step('todo', '')
    return _step('already_done', step.gate.already % user.get(step.gate.since))


def block_unsafe_unblocks(items: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """An account is unblocked only once it is under control: every earlier step done, already done or off.

    A failed password reset, session revocation or mailbox clean-up keeps the account blocked, with why.
    """
    for item in items:
        steps = item['steps']
        if steps[UNBLOCK]['status'] != 'todo':
            continue
        for name, step in steps.items():
            if name != UNBLOCK and step['status'] == 'failed':
                steps[UNBLOCK] = _step('skipped', 'not unblocked because the %s step failed: %s' % (name.replace('_', ' '), step['msg']))
                break
    return items


def pending(items: list[dict[str, t.Any]], step: str, key: str | None = None) -> list[str]:
    """The ``key`` of each item whose ``step`` is still to do, for the next module call; by default what the
    step's module takes (the registry's ``target``: the object id, or the address for the unblock)."""
    key = key or (registry.BY_NAME[step].target if step in registry.BY_NAME else registry.BY_ID)
    return [item[key] for item in items if item['steps'].get(step, {}).get('status') == 'todo']


def apply(items: list[dict[str, t.Any]], step: str, result: dict[str, t.Any], check_mode: bool = False) -> list[dict[str, t.Any]]:
    """Fold a module's per-item ``results`` into the plan's ``step``; then withhold unsafe unblocks.

    Results are matched by user object id, or by address for a step given addresses (the unblock).
    """
    known = registry.get(step)
    key = known.target
    by_key = {}
    for entry in (result or {}).get('results') or ():
        name = entry.get('address') if key == registry.BY_ADDRESS else entry.get('id') or entry.get('user')
        by_key[str(name).lower()] = entry
    out = []
    for item in items:
        item = dict(item, steps=dict(item['steps']))
        if item['steps'][step]['status'] == 'todo':
            entry = by_key.get(str(item[key]).lower())
            if entry is None:
                continue_msg = (result or {}).get('msg') or 'no result for this user'
                item['steps'][step] = _step('failed', continue_msg) if (result or {}).get('failed') else _step('todo', '')
            elif entry.get('failed'):
                item['steps'][step] = _step('failed', entry.get('msg') or 'failed')
            elif entry.get('skipped'):
                item['steps'][step] = _step('skipped', entry.get('msg') or 'skipped')
            elif entry.get('changed'):
                item['steps'][step] = _step('would_do' if check_mode else 'done', entry.get('msg') or '')
                item.update({k: entry[k] for k in known.keeps if k in entry})
            else:
                item['steps'][step] = _step('none_found' if known.finding else 'already_done', entry.get('msg') or 'nothing to do')
        out.append(item)
    return block_unsafe_unblocks(out)


def todo(items: list[dict[str, t.Any]]) -> dict[str, list[str]]:
    """For every step of the registry, in order, what its module is to be given: user object ids, addresses for
    ``unblock`` (empty for a step that is not part of the plan or has nothing to do)."""
    return {step.name: pending(items, step.name, step.target) for step in registry.STEPS}


def fold(items: list[dict[str, t.Any]], results: dict[str, t.Any], check_mode: bool = False) -> list[dict[str, t.Any]]:
    """Fold every step's module result (``{step: registered result}``) into the plan, in the plan's order.

    A step whose task did not run (skipped, or never reached) leaves its users as they were; folding the
    same results twice changes nothing, so the report can fold whatever ran, even after a failure. A step
    with no user left to do is not read at all: a plan folded before the unblock only reads the unblock's
    result when it is folded again for the report.
    """
    names = list(items[0]['steps']) if items else []
    for name in names:
        result = results.get(name)
        if isinstance(result, dict) and result and any(item['steps'][name]['status'] == 'todo' for item in items):
            items = apply(items, name, result, check_mode)
    return items


def outcome(item: dict[str, t.Any]) -> str:
    """One word for a user: remediated, would_remediate, already_remediated, not_restricted, skipped or failed."""
    statuses = [step['status'] for step in item['steps'].values()]
    if item.get('protected'):
        return 'skipped'
    if 'failed' in statuses or (item.get('restricted') and item['steps'][UNBLOCK]['status'] == 'skipped'):
        return 'failed'
    if 'would_do' in statuses:
        return 'would_remediate'
    if 'done' in statuses:
        return 'remediated'
    if item.get('restricted') or (statuses and all(s in NOTHING_TO_DO for s in statuses)):
        return 'already_remediated'
    return 'not_restricted'


def _dedupe(asked: t.Iterable[t.Any]) -> list[str]:
    """The asked users, each once (compared as addresses, else case-insensitively), in the order given."""
    seen, out = set(), []
    for name in asked or ():
        text = str(name).strip()
        key = rem.normalize_address(text) or text.lower()
        if text and key not in seen:
            seen.add(key)
            out.append(text)
    return out


def _unread(asked: t.Iterable[t.Any], error: str) -> list[dict[str, t.Any]]:
    """A plan for the asked users of a tenant that failed before its Restricted Users list was read."""
    why = 'not remediated: %s' % error
    return [{'user': name, 'id': None, 'user_principal_name': None, 'address': rem.normalize_address(name), 'protected': False,
             'restricted': None, 'restricted_at': None, 'reason_details': {}, 'steps': {step: _step('failed', why) for step in STEPS}}
            for name in _dedupe(asked)]


def tenant_report(items: list[dict[str, t.Any]], tenant: str, tenant_id: str | None, check_mode: bool,
                  error: str | None = None, generated_at: str | None = None, asked: t.Iterable[str] | None = None,
                  run: dict[str, t.Any] | None = None, password_file: str | None = None) -> dict[str, t.Any]:
    """The report of one tenant: every user with every step, and the counts. Never a password or token.

    ``asked`` are the users the run asked for (none: the whole tenant) and ``run`` the run's ``id``,
    ``folder`` and ``started_at``, kept as they are under ``run``. A tenant that failed (``error``) before
    any user was planned has ``list_read: false`` and each asked user failed, with the error.
    """
    list_read = not (error and not items)
    if not list_read:
        items = _unread(asked or (), str(error))
    users = []
    names = list(items[0]['steps']) if items else list(STEPS)
    for item in items:
        steps = {}
        for name in item['steps']:
            status, msg = item['steps'][name]['status'], item['steps'][name]['msg']
            if status == 'todo':
                status, msg = 'failed', 'not reached: %s' % (error or 'an earlier step stopped the run')
            steps[name] = {'status': status, 'msg': msg}
        user = {k: item.get(k) for k in REPORTED}
        user['steps'] = steps
        user['outcome'] = outcome(dict(item, steps=steps))
        users.append(user)
    outcomes = {name: 0 for name in OUTCOME_COUNTS}
    for user in users:
        if user['outcome'] in outcomes:
            outcomes[user['outcome']] += 1
    acted = ('done', 'would_do')
    counts: dict[str, t.Any] = {'users': len(users)}
    counts.update((count, sum(1 for u in users if u['steps'][name]['status'] in acted)) for count, name in STEP_COUNTS)
    counts.update((name, outcomes[name]) for name in OUTCOME_COUNTS)
    counts['steps'] = {name: sum(1 for u in users if u['steps'][name]['status'] in acted) for name in names}
    expected = [u['sending_expected_by'] for u in users if u.get('sending_expected_by')]
    latest = [u['sending_expected_at_latest'] for u in users if u.get('sending_expected_at_latest')]
    return {
        'tenant': tenant,
        'tenant_id': tenant_id,
        'check_mode': bool(check_mode),
        'steps': names,
        'generated_at': generated_at or rem.isoformat(rem.utcnow()),
        'run': run,
        # The file the new credentials of the tenant went to (the password step's password_file), when there is one.
        'password_file': password_file,
        'error': error,
        'list_read': list_read,
        'failed': bool(error) or counts['failed'] > 0,
        'counts': counts,
        'sending_expected_by': max(expected) if expected else None,
        'sending_expected_at_latest': max(latest) if latest else None,
        'users': users,
    }


def run_summary(reports: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Totals over every tenant's report, for the end-of-run summary."""
    totals = {k: sum(r['counts'].get(k, 0) for r in reports) for k in COUNTED}
    expected = [r['sending_expected_by'] for r in reports if r.get('sending_expected_by')]
    latest = [r['sending_expected_at_latest'] for r in reports if r.get('sending_expected_at_latest')]
    return {
        'tenants': len(reports),
        'tenants_failed': sum(1 for r in reports if r.get('error')),
        'check_mode': any(r.get('check_mode') for r in reports),
        'note': next((r['run']['note'] for r in reports if isinstance(r.get('run'), dict) and r['run'].get('note')), None),
        'totals': totals,
        'sending_expected_by': max(expected) if expected else None,
        'sending_expected_at_latest': max(latest) if latest else None,
    }
