# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The run of a containment module over many users: resolve, read, decide, write (or only say what it would).

Every containment module follows the same course, so it lives here once: users are resolved (protected
accounts skipped) by ``operations.user_targets``; each user's state is read (Graph, batched, or Exchange,
concurrently); a module's ``plan`` turns it into a :class:`Step`; in check mode nothing is written; the
writes go out together; per-user results come back in the order given, and the task fails at the end.
"""

from __future__ import annotations

import typing as t
from urllib.parse import quote

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import containment as con
from ansible_collections.m365ops.remediation.plugins.module_utils import operations as ops
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem


class Step(t.NamedTuple):
    """What a module decided for one user.

    ``result`` holds the user's result fields as read; ``change`` what to write (None: nothing to do);
    ``msg`` says what was done (or why nothing is needed), ``would`` what check mode reports; ``before``
    and ``after`` make the diff; ``update`` is merged into the result once the change is made (or
    planned, in check mode).
    """

    result: dict[str, t.Any]
    change: t.Any
    msg: str
    would: str = ''
    before: dict[str, t.Any] = {}
    after: dict[str, t.Any] = {}
    update: dict[str, t.Any] = {}


Read = t.Callable[[list[tuple[str, dict[str, t.Any]]]], dict[str, t.Any]]
Pending = list[tuple[str, dict[str, t.Any], Step]]


def identity(ref: str, user: dict[str, t.Any]) -> dict[str, t.Any]:
    """The fields every per-user result starts with."""
    return dict(user=ref, id=user.get('id'), user_principal_name=user.get('userPrincipalName'))


def failure(base: dict[str, t.Any], what: str, error: M365Error) -> dict[str, t.Any]:
    """A failed per-user result carrying the service error."""
    return dict(base, changed=False, failed=True, msg='%s: %s' % (what, error), error=error.to_dict())


def _ordered(m: t.Any, results: dict[str, dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    return [results[k] for k in ops.reference_keys(m.params['users'])]


def inspect(m: t.Any, read: Read, describe: t.Callable[[dict[str, t.Any], t.Any], dict[str, t.Any]]) -> dict[str, t.Any]:
    """The course of an ``_info`` module: one result per user with ``describe(user, state)`` merged in."""
    done, targets = ops.user_targets(m.graph, m.params['users'])
    results = dict(done)
    states = read(targets) if targets else {}
    for ref, user in targets:
        state = states[ref]
        if isinstance(state, M365Error):
            results[ref] = failure(identity(ref, user), 'lookup failed', state)
        else:
            results[ref] = dict(identity(ref, user), changed=False, failed=False, **describe(user, state))
    return rem.summarize(_ordered(m, results), 'users')


def converge(m: t.Any, read: Read, plan: t.Callable[[dict[str, t.Any], dict[str, t.Any], t.Any], Step],
             apply: t.Callable[[Pending], dict[str, t.Any]]) -> dict[str, t.Any]:
    """The course of a changing module; ``apply`` answers per user a dict merged into its result, or an M365Error."""
    p = m.params
    done, targets = ops.user_targets(m.graph, p['users'], p['protected'])
    results = dict(done)
    states = read(targets) if targets else {}
    steps: dict[str, Step] = {}
    pending: Pending = []
    for ref, user in targets:
        state = states[ref]
        if isinstance(state, M365Error):
            results[ref] = failure(identity(ref, user), 'lookup failed', state)
            continue
        step = steps[ref] = plan(identity(ref, user), user, state)
        if step.change is None:
            # The plan may fail a user itself (say, an account the service would refuse to change).
            results[ref] = dict(dict(changed=False, failed=False, msg=step.msg), **step.result)
        elif m.check_mode:
            results[ref] = dict(step.result, changed=True, failed=False, msg=step.would or step.msg, **step.update)
        else:
            pending.append((ref, user, step))
    outcomes = apply(pending) if pending else {}
    for ref, user, step in pending:
        outcome = outcomes[ref]
        if isinstance(outcome, M365Error):
            results[ref] = failure(step.result, 'change failed', outcome)
        else:
            results[ref] = dict(step.result, changed=True, failed=False, msg=step.msg, **step.update)
            results[ref].update(outcome)
    ordered = _ordered(m, results)
    summary = rem.summarize(ordered, 'users', p['continue_on_error'])
    if m.diff_mode:
        summary['diff'] = [dict(before_header=r.get('user_principal_name') or r['user'], after_header=r.get('user_principal_name') or r['user'],
                                before=steps[r['user']].before, after=steps[r['user']].after)
                           for r in ordered if r.get('changed') and r['user'] in steps]
    return summary


# -- reads and writes ------------------------------------------------------------------------------------

def exchange_read(m: t.Any, cmdlet: str) -> Read:
    """A reader running ``cmdlet -Identity <UPN>`` for each user, concurrently; answers the first object."""
    def get(target: tuple[str, dict[str, t.Any]]) -> dict[str, t.Any]:
        upn = target[1].get('userPrincipalName')
        value = m.exchange.invoke(cmdlet, {'Identity': upn}).value
        if not value:
            raise M365Error("%s returned nothing for '%s': the user has no Exchange Online mailbox" % (cmdlet, upn),
                            service='exchange', status=404, code='ManagementObjectNotFoundException')
        return value[0]

    def read(targets: list[tuple[str, dict[str, t.Any]]]) -> dict[str, t.Any]:
        return {target[0]: outcome for target, outcome in ops.run_concurrently(get, targets, m.params['max_concurrency'])}
    return read


# Mailboxes with any forwarding, in Exchange's server-side filter syntax (the usual admin query).
FORWARDING_FILTER = 'ForwardingSmtpAddress -ne $null -or ForwardingAddress -ne $null -or DeliverToMailboxAndForward -eq $true'


def forwarding_read(m: t.Any) -> Read:
    """Mailbox forwarding of each user: one ``Get-Mailbox`` each for a few users, else one filtered read.

    Each Exchange call counts against the tenant's throttling budget, so for many users one
    ``Get-Mailbox -Filter`` returns just the mailboxes that forward; the others are known to have none.
    """
    per_user = exchange_read(m, 'Get-Mailbox')

    def read(targets: list[tuple[str, dict[str, t.Any]]]) -> dict[str, t.Any]:
        if len(targets) <= ops.WHOLE_LIST_THRESHOLD:
            return per_user(targets)
        forwarding = m.exchange.invoke('Get-Mailbox', {'ResultSize': 'Unlimited', 'Filter': FORWARDING_FILTER}).value
        by_id = {str(mb.get('ExternalDirectoryObjectId') or '').lower(): mb for mb in forwarding}
        clean = dict(ForwardingSmtpAddress=None, ForwardingAddress=None, DeliverToMailboxAndForward=False)
        return {ref: by_id.get(str(user.get('id')).lower(), dict(clean, UserPrincipalName=user.get('userPrincipalName')))
                for ref, user in targets}
    return read


def exchange_apply(m: t.Any, cmdlet: str) -> t.Callable[[Pending], dict[str, t.Any]]:
    """A writer running ``cmdlet -Identity <UPN>`` with each step's ``change`` as parameters, concurrently."""
    def put(item: tuple[str, dict[str, t.Any], Step]) -> dict[str, t.Any]:
        m.exchange.invoke(cmdlet, dict(item[2].change, Identity=item[1].get('userPrincipalName')))
        return {}

    def apply(pending: Pending) -> dict[str, t.Any]:
        return {item[0]: outcome for item, outcome in ops.run_concurrently(put, pending, m.params['max_concurrency'])}
    return apply


def graph_read(m: t.Any, path: t.Callable[[dict[str, t.Any]], str]) -> Read:
    """A reader getting the collection at ``path(user)`` for each user, all in ``$batch``, following next links."""
    def read(targets: list[tuple[str, dict[str, t.Any]]]) -> dict[str, t.Any]:
        answers = m.graph.batch([dict(id=str(i), method='GET', url=path(user)) for i, (ref, user) in enumerate(targets)])
        out: dict[str, t.Any] = {}
        for i, (ref, user) in enumerate(targets):
            answer = answers[str(i)]
            if not answer.ok:
                out[ref] = answer.error()
                continue
            body = answer.body or {}
            items = list(body.get('value') or [])
            if body.get('@odata.nextLink'):
                try:
                    items.extend(m.graph.iter_items(body['@odata.nextLink']))
                except M365Error as error:
                    items = error
            out[ref] = items
        return out
    return read


def graph_writes(m: t.Any, pending: Pending, requests: t.Callable[[Step], list[dict[str, t.Any]]], noun: str,
                 retry_when: t.Callable[[M365Error], bool] | None = None,
                 explain: t.Callable[[dict[str, t.Any], M365Error], str] | None = None) -> dict[str, t.Any]:
    """Send every user's write requests in ``$batch``; mark each request's ``item`` done or failed.

    ``requests(step)`` gives ``{"method", "url", "body"?, "item", "round"?}`` dicts, where ``item`` is the dict in
    the step's result that reports this write (it gets ``done`` and, on failure, ``error``). Requests go out round
    by round (``round``, 0 when absent), each round once the one before is answered: for writes the service
    refuses until others are done. A request refused with an error ``retry_when`` accepts is sent once more at the
    end when a later round of its user changed something. A user whose writes partly failed gets ``failed``
    with the first error (in the words of ``explain(item, error)`` when given), ``changed`` if any write went through.
    """
    plan = [(ref, request) for ref, user, step in pending for request in requests(step)]
    errors: dict[int, M365Error] = {}
    changed_in: dict[str, int] = {}

    def send(indexes: list[int], round_no: int) -> None:
        answers = m.graph.batch([dict({k: v for k, v in plan[i][1].items() if k not in ('item', 'round')}, id=str(i)) for i in indexes])
        for i in indexes:
            ref, request = plan[i]
            answer = answers[str(i)]
            request['item']['done'] = answer.ok
            if answer.ok:
                errors.pop(i, None)
                request['item'].pop('error', None)
                changed_in[ref] = round_no
            else:
                errors[i] = answer.error()
                request['item']['error'] = errors[i].to_dict()

    rounds = sorted({request.get('round', 0) for ref, request in plan})
    for round_no in rounds:
        send([i for i, (ref, request) in enumerate(plan) if request.get('round', 0) == round_no], round_no)
    if retry_when is not None:
        again = [i for i, error in sorted(errors.items())
                 if retry_when(error) and changed_in.get(plan[i][0], -1) > plan[i][1].get('round', 0)]
        if again:
            send(again, rounds[-1] + 1)
    outcomes: dict[str, dict[str, t.Any]] = {ref: {} for ref, user, step in pending}
    for i, (ref, request) in enumerate(plan):
        outcome = outcomes[ref]
        outcome['changed'] = outcome.get('changed', False) or request['item']['done']
        if i in errors:
            error = errors[i]
            outcome.setdefault('error', error.to_dict())
            outcome.setdefault('errors', []).append(explain(request['item'], error) if explain else str(error))
    for outcome in outcomes.values():
        if outcome.get('errors'):
            outcome.update(failed=True, msg='%d %s failed; first: %s' % (len(outcome['errors']), noun, outcome['errors'][0]))
    return outcomes


# -- inbox rules -----------------------------------------------------------------------------------------

def rule_options() -> dict[str, t.Any]:
    """The options inbox_rule and inbox_rule_info share to classify rules."""
    return dict(
        rarely_used_folders=dict(type='list', elements='str', default=list(con.RARELY_USED_FOLDERS)),
        internal_forwarding_suspicious=dict(type='bool', default=True),
        resolve_folders=dict(type='bool', default=True),
    )


def rules_path(user: dict[str, t.Any]) -> str:
    """The Graph path of a user's inbox rules."""
    return '/users/%s/mailFolders/inbox/messageRules' % user.get('id')


def read_rules(m: t.Any) -> Read:
    """A reader of each user's inbox rules, with the display names of the folders they move mail to.

    Folder names need ``Mail.ReadBasic.All``; a folder that cannot be read keeps a null name (and such a
    move is then not judged), so the rules are still listed with ``MailboxSettings.Read`` alone.
    """
    rules = graph_read(m, rules_path)

    def read(targets: list[tuple[str, dict[str, t.Any]]]) -> dict[str, t.Any]:
        found = rules(targets)
        folders = []
        if m.params['resolve_folders']:
            users = dict(targets)
            folders = sorted({(ref, rule['actions']['moveToFolder']) for ref, listed in found.items() if isinstance(listed, list)
                              for rule in listed if (rule.get('actions') or {}).get('moveToFolder')})
            answers = m.graph.batch([dict(id=str(i), method='GET', url='/users/%s/mailFolders/%s?$select=displayName' % (
                users[ref].get('id'), quote(folder, safe=''))) for i, (ref, folder) in enumerate(folders)]) if folders else {}
        names: dict[str, dict[str, str | None]] = {ref: {} for ref in found}
        for i, (ref, folder) in enumerate(folders):
            answer = answers[str(i)]
            names[ref][folder] = (answer.body or {}).get('displayName') if answer.ok else None
        return {ref: listed if isinstance(listed, M365Error) else (listed, names[ref]) for ref, listed in found.items()}
    return read


def rule_records(m: t.Any, user: dict[str, t.Any], state: tuple[list[dict[str, t.Any]], dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """A user's inbox rules, classified with the module's options."""
    rules, folder_names = state
    domains = con.own_domains(user)
    return [con.classify_rule(rule, domains, folder_names, m.params['rarely_used_folders'], m.params['internal_forwarding_suspicious'])
            for rule in rules]


# -- authentication methods ------------------------------------------------------------------------------

def read_methods(m: t.Any) -> Read:
    """A reader of each user's authentication methods, in the result shape."""
    methods = graph_read(m, lambda user: '/users/%s/authentication/methods' % user.get('id'))

    def read(targets: list[tuple[str, dict[str, t.Any]]]) -> dict[str, t.Any]:
        return {ref: listed if isinstance(listed, M365Error) else [con.method_record(raw) for raw in listed]
                for ref, listed in methods(targets).items()}
    return read
