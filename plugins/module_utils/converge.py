# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one course of every module that changes something: targets, read, plan, write (or only say what it would).

A module declares its options (with the fragments below), a resource's ``read`` and ``write``, and a ``plan``
that turns one target's state into a :class:`Plan`; :func:`converge` runs them. Users are resolved (protected
accounts skipped) by the users resource; each target's state is read in one go; in check mode nothing is
written; the writes go out together; per-target results come back in the order given, the task fails at the
end, and the diff is made from each plan's ``before`` and ``after``. ``_info`` modules take :func:`inspect`.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Target, Users, reference_keys

# Exchange calls in flight at once for one module run (the adaptive limit starts lower and grows to this).
MAX_CONCURRENCY = 8


# -- option fragments --------------------------------------------------------------------------------------

def users_option(required: bool = True) -> dict[str, t.Any]:
    """The users a module works on (documented in doc_fragments/users.py)."""
    if required:
        return dict(users=dict(type='list', elements='str', required=True))
    return dict(users=dict(type='list', elements='str', default=[]))


def change_options() -> dict[str, t.Any]:
    """The options of every module that changes users or the Restricted Users list: the protected accounts and
    failing at the end (doc_fragments/users.py, fragment ``changes``)."""
    return dict(protected=dict(type='list', elements='str', default=[]), continue_on_error=dict(type='bool', default=False))


def user_options() -> dict[str, t.Any]:
    """The options of every module that changes users: the users, the protected accounts, failing at the end."""
    return dict(users_option(), **change_options())


def concurrency_option() -> dict[str, t.Any]:
    """``max_concurrency``: one default for every module that runs Exchange cmdlets (doc_fragments/concurrency.py)."""
    return dict(max_concurrency=dict(type='int', default=MAX_CONCURRENCY))


def time_problems(params: dict[str, t.Any], *names: str) -> str | None:
    """Why one of the options ``names`` (ISO 8601 times) is unusable, in one sentence; None when all are fine or unset."""
    for name in names:
        value = params.get(name)
        if value and rem.parse_datetime(value) is None:
            return "%s: '%s' is not an ISO 8601 time such as 2026-11-20T08:00:00Z" % (name, value)
    return None


# -- the course ----------------------------------------------------------------------------------------------

@dataclass
class Plan:
    """What a module decided for one target.

    ``result`` holds the target's result fields as read; ``change`` what to write (None: nothing to do);
    ``done`` says what was done (or why nothing is needed) and ``would`` what check mode reports; ``before`` and
    ``after`` make the diff (keys of ``after`` that the write answers are taken from the answer); ``update`` is
    merged into the result once the change is made (or planned, in check mode).
    """

    result: dict[str, t.Any]
    change: t.Any = None
    done: str = ''
    would: str = ''
    before: dict[str, t.Any] = field(default_factory=dict)
    after: dict[str, t.Any] = field(default_factory=dict)
    update: dict[str, t.Any] = field(default_factory=dict)


class Pending(t.NamedTuple):
    """A change to write: the target's reference, its Graph user (None for an address) and its plan."""

    ref: str
    user: dict[str, t.Any] | None
    plan: Plan


Targets = tuple[dict[str, dict[str, t.Any]], list[Target]]
Read = t.Callable[[list[Target]], dict[str, t.Any]]
Write = t.Callable[[list[Pending]], dict[str, t.Any]]


def identity(target: Target) -> dict[str, t.Any]:
    """The fields every per-target result starts with: the user's, or the address."""
    if target.user is None:
        return dict(address=target.ref)
    return dict(user=target.ref, id=target.user.get('id'), user_principal_name=target.user.get('userPrincipalName'))


def failure(base: dict[str, t.Any], what: str, error: M365Error) -> dict[str, t.Any]:
    """A failed per-target result carrying the service error."""
    return dict(base, changed=False, failed=True, msg='%s: %s' % (what, error), error=error.to_dict())


def user_targets(m: t.Any, protected: bool = True) -> tuple[Targets, list[str]]:
    """The module's users as targets (protected accounts skipped when ``protected``), and the order of the results."""
    users = m.params['users']
    return Users(m.graph).targets(users, m.params['protected'] if protected else ()), reference_keys(users)


def inspect(m: t.Any, read: Read, describe: t.Callable[[dict[str, t.Any], t.Any], dict[str, t.Any]]) -> dict[str, t.Any]:
    """The course of an ``_info`` module over users: one result per user with ``describe(user, state)`` merged in."""
    (done, targets), order = user_targets(m, protected=False)
    results = dict(done)
    states = read(targets) if targets else {}
    for target in targets:
        state = states[target.ref]
        if isinstance(state, M365Error):
            results[target.ref] = failure(identity(target), 'lookup failed', state)
        else:
            results[target.ref] = dict(identity(target), changed=False, failed=False, **describe(target.user, state))
    return rem.summarize([results[k] for k in order], 'users')


def converge(m: t.Any, read: Read, plan: t.Callable[[dict[str, t.Any], t.Any, t.Any], Plan], write: Write, *,
             targets: tuple[Targets, list[str]] | None = None, noun: str = 'users') -> dict[str, t.Any]:
    """The course of a changing module: ``plan(base, user, state)`` per target; ``write`` answers per target a dict
    merged into its result (it may say ``failed`` itself), or an M365Error. Targets are the module's users unless
    given as ``((done, targets), order)``."""
    (done, found), order = targets if targets is not None else user_targets(m)
    results = dict(done)
    states = read(found) if found else {}
    plans: dict[str, Plan] = {}
    pending: list[Pending] = []
    for target in found:
        state = states[target.ref]
        if isinstance(state, M365Error):
            results[target.ref] = failure(identity(target), 'lookup failed', state)
            continue
        decided = plans[target.ref] = plan(identity(target), target.user, state)
        if decided.change is None:
            # The plan may fail a target itself (say, an account the service would refuse to change).
            results[target.ref] = dict(dict(changed=False, failed=False, msg=decided.done), **decided.result)
        elif m.check_mode:
            results[target.ref] = dict(decided.result, changed=True, failed=False, msg=decided.would or decided.done, **decided.update)
        else:
            pending.append(Pending(target.ref, target.user, decided))
    outcomes = write(pending) if pending else {}
    answered: dict[str, dict[str, t.Any]] = {}
    for item in pending:
        outcome = outcomes[item.ref]
        if isinstance(outcome, M365Error):
            results[item.ref] = failure(item.plan.result, 'change failed', outcome)
        else:
            answered[item.ref] = outcome
            results[item.ref] = dict(item.plan.result, changed=True, failed=False, msg=item.plan.done, **item.plan.update)
            results[item.ref].update(outcome)
    ordered = [results[k] for k in order]
    summary = rem.summarize(ordered, noun, m.params['continue_on_error'])
    if m.diff_mode:
        summary['diff'] = []
        for result in ordered:
            key = result.get('user') or result.get('address')
            if not result.get('changed') or key not in plans:
                continue
            header = result.get('user_principal_name') or key
            after = dict(plans[key].after)
            after.update((k, v) for k, v in answered.get(key, {}).items() if k in after)
            summary['diff'].append(dict(before_header=header, after_header=header, before=plans[key].before, after=after))
    return summary


def batch_outcomes(pending: list[Pending], answers: dict[str, t.Any], done: t.Callable[[Pending], dict[str, t.Any]],
                   failed: t.Callable[[Pending, M365Error], dict[str, t.Any]]) -> dict[str, t.Any]:
    """Per target, ``done(item)`` for an answer that succeeded, else ``failed(item, error)`` (merged with failed=True,
    changed=False)."""
    outcomes: dict[str, t.Any] = {}
    for item in pending:
        answer = answers[item.ref]
        if answer.ok:
            outcomes[item.ref] = done(item)
        else:
            error = answer.error()
            outcomes[item.ref] = dict(failed(item, error), changed=False, failed=True, error=error.to_dict())
    return outcomes


def batch_writes(graph: t.Any, pending: list[Pending], requests: t.Callable[[Pending], list[dict[str, t.Any]]], noun: str,
                 retry_when: t.Callable[[M365Error], bool] | None = None,
                 explain: t.Callable[[dict[str, t.Any], M365Error], str] | None = None) -> dict[str, t.Any]:
    """Send every target's write requests (made by its resource) in ``$batch``; mark each request's ``item`` done or failed.

    ``requests(item)`` gives ``{"method", "url", "body"?, "item", "round"?}`` dicts, where ``item`` is the dict in
    the plan's result that reports this write (it gets ``done`` and, on failure, ``error``). Requests go out round
    by round (``round``, 0 when absent), each round once the one before is answered: for writes the service
    refuses until others are done. A request refused with an error ``retry_when`` accepts is sent once more at the
    end when a later round of its target changed something. A target whose writes partly failed gets ``failed``
    with the first error (in the words of ``explain(item, error)`` when given), ``changed`` if any write went through.
    """
    plan = [(item.ref, request) for item in pending for request in requests(item)]
    errors: dict[int, M365Error] = {}
    changed_in: dict[str, int] = {}

    def send(indexes: list[int], round_no: int) -> None:
        answers = graph.batch([dict({k: v for k, v in plan[i][1].items() if k not in ('item', 'round')}, id=str(i)) for i in indexes])
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
    outcomes: dict[str, dict[str, t.Any]] = {item.ref: {} for item in pending}
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
