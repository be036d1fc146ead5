"""The preflight's table of requirements and its decisions: what an app may do, step by step of the role."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.m365ops.remediation.plugins.module_utils import access as acc

ROOT = Path(__file__).resolve().parents[3]
R = acc.ROLE_IDS
ALL_GRAPH = frozenset(('User.Read.All', 'User-PasswordProfile.ReadWrite.All', 'User.RevokeSessions.All', 'User.EnableDisableAccount.All',
                       'UserAuthenticationMethod.ReadWrite.All', 'MailboxSettings.ReadWrite', 'Mail.ReadBasic.All'))
MANAGE = frozenset(('Exchange.ManageAsApp',))
# An id Entra puts in app tokens that is not a built-in role.
OTHER_ID = '0997a1d0-0d1d-4acb-b408-d5ca73121e90'


def roles(*names: str) -> frozenset[str]:
    return frozenset(R[name] for name in names) | {OTHER_ID}


def access(graph=ALL_GRAPH, exchange=MANAGE, role_ids=roles('Exchange Administrator', 'User Administrator'), probe=acc.PROBE_OK,
           **kwargs) -> acc.Access:
    return acc.Access(graph_permissions=graph, exchange_permissions=exchange, role_ids=role_ids, probe=probe, **kwargs)


def steps(value: acc.Access, settings=None) -> dict[str, dict]:
    return {step['name']: step for step in acc.evaluate(value, settings)}


def statuses(value: acc.Access, settings=None) -> dict[str, str]:
    return {name: step['status'] for name, step in steps(value, settings).items()}


def jwt(claims: dict) -> str:
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b'=').decode()
    return '%s.%s.%s' % (part({'alg': 'RS256', 'typ': 'JWT'}), part(claims), 'c2lnbmF0dXJl')


# -- the table ------------------------------------------------------------------------------------------------------


def test_role_template_ids_are_microsofts():
    # From Microsoft's "Microsoft Entra built-in roles" page.
    assert R['Global Administrator'] == '62e90394-69f5-4237-9190-012177145e10'
    assert R['Exchange Administrator'] == '29232cdf-9323-42fd-ade2-1d097af3e4de'
    assert R['Security Administrator'] == '194ae4cb-b126-40b2-bd5b-6091b380977d'
    assert R['User Administrator'] == 'fe930be7-5e62-47db-91af-98c3a49a38b1'
    assert R['Privileged Authentication Administrator'] == '7be44c8a-adaf-4e2a-84d6-ab2649e08a13'
    assert R['Authentication Administrator'] == 'c4e39bd9-1100-46d3-8c65-fb160da0071f'
    assert R['Global Reader'] == 'f2ef992c-3afb-46b9-b7cf-a126ee74c451'
    assert len(set(acc.ROLE_NAMES)) == len(acc.ROLE_NAMES) == len(acc.ROLE_IDS)


def test_every_role_a_step_needs_has_an_id():
    for step in acc.STEPS:
        for need in step.needs:
            if need.kind == acc.ROLE:
                assert all(name in R for name in need.any_of), step.name


def test_steps_follow_the_role():
    """Each switch is a variable of the role, each module exists, and the steps are those the role's report names."""
    defaults = yaml.safe_load((ROOT / 'roles' / 'unblock_email' / 'defaults' / 'main.yml').read_text())
    for step in acc.STEPS:
        assert step.switch is None or step.switch in defaults, step.switch
        assert (ROOT / 'plugins' / 'modules' / f'{step.module}.py').exists(), step.module
        # The default of the role's switch is the step's mode.
        if step.switch:
            assert acc.step_enabled(step, {step.switch: defaults[step.switch]}) is step.default, step.name
    remediate = ''.join(p.read_text() for p in sorted((ROOT / 'roles' / 'unblock_email' / 'tasks').rglob('*.yml')))
    for step in acc.STEPS:
        assert f'm365ops.remediation.{step.module}:' in remediate, step.module
    assert {s.name for s in acc.STEPS} >= {'password', 'sessions', 'sign_in', 'auth_methods', 'forwarding', 'inbox_rules',
                                           'protocols', 'unblock'}


def test_docs_show_the_table():
    assert acc.requirements_markdown() in (ROOT / 'docs' / 'preflight.md').read_text()


def test_requirements_as_microsoft_documents_them():
    by_name = {step.name: step for step in acc.STEPS}
    password = by_name['password']
    assert acc.Need(acc.GRAPH, ('User-PasswordProfile.ReadWrite.All',)) in password.needs
    assert next(n for n in password.needs if n.kind == acc.ROLE).any_of[0] == 'User Administrator'
    assert by_name['password_admins'].only_for
    for name in ('list', 'unblock'):
        exchange_roles = next(n for n in by_name[name].needs if n.kind == acc.ROLE).any_of
        assert {'Security Administrator', 'Exchange Administrator', 'Global Administrator'} <= set(exchange_roles)
    for name in ('forwarding', 'protocols'):
        recipient_roles = next(n for n in by_name[name].needs if n.kind == acc.ROLE).any_of
        assert 'Exchange Administrator' in recipient_roles and 'Security Administrator' not in recipient_roles


# -- decisions ------------------------------------------------------------------------------------------------------


def test_a_fully_equipped_app_is_ok_but_admins_unknown_without_privileged_role():
    found = statuses(access())
    assert found.pop('password_admins') == 'unknown' and found.pop('sign_in_admins') == 'unknown'
    assert set(found.values()) == {'ok'}
    admins = steps(access())['password_admins']
    assert admins['missing'] == [] and admins['unknown'] == ['Privileged Authentication Administrator']
    assert 'only for users who hold admin roles' in admins['action'] and 'Privileged Authentication Administrator' in admins['action']


def test_privileged_authentication_administrator_makes_everything_ok():
    value = access(role_ids=roles('Exchange Administrator', 'User Administrator', 'Privileged Authentication Administrator'))
    assert set(statuses(value).values()) == {'ok'}
    assert acc.blocking_message(acc.evaluate(value)) == ''


def test_global_administrator_covers_every_role():
    assert set(statuses(access(role_ids=roles('Global Administrator'))).values()) == {'ok'}


def test_user_readwrite_all_does_not_reset_passwords():
    graph = frozenset(('User.Read.All', 'User.ReadWrite.All', 'MailboxSettings.ReadWrite'))
    found = steps(access(graph=graph))
    assert found['password']['status'] == 'missing' and found['password']['missing'] == ['User-PasswordProfile.ReadWrite.All']
    assert 'grant (with admin consent) the Microsoft Graph application permission User-PasswordProfile.ReadWrite.All' in found['password']['action']
    # The other user writes accept it.
    assert found['sessions']['status'] == 'ok' and found['sign_in']['status'] == 'ok'


def test_password_reset_needs_user_administrator():
    found = steps(access(role_ids=roles('Exchange Administrator')))
    assert found['password']['status'] == 'missing' and found['password']['missing'] == ['User Administrator']
    assert ('assign the Entra role User Administrator (or Privileged Authentication Administrator, Global Administrator) on the app'
            in found['password']['action'])


def test_without_wids_roles_are_unknown_never_missing():
    found = steps(access(role_ids=None))
    assert found['password']['status'] == 'unknown'
    assert found['password']['action'] == ("the app's directory roles are not in its token; check in Entra ID that the app holds "
                                           'User Administrator (or Privileged Authentication Administrator, Global Administrator)')
    # Exchange answered the read: reading is ok; writing needs a role that cannot be told.
    assert found['list']['status'] == 'ok'
    assert found['unblock']['status'] == 'unknown' and found['forwarding']['status'] == 'unknown'
    assert all(step['status'] != 'missing' for step in found.values())
    assert acc.directory_roles(None) is None


def test_security_administrator_may_unblock_but_not_manage_mailboxes():
    found = steps(access(role_ids=roles('Security Administrator', 'User Administrator')))
    assert found['list']['status'] == 'ok' and found['unblock']['status'] == 'ok'
    assert found['forwarding']['status'] == 'missing' and found['forwarding']['missing'] == ['Exchange Administrator']
    assert found['protocols']['status'] == 'missing'
    message = acc.blocking_message(acc.evaluate(access(role_ids=roles('Security Administrator', 'User Administrator'))))
    assert message == ('the app lacks the Entra role Exchange Administrator (or Exchange Recipient Administrator, Global Administrator) '
                       'on the app, needed to remove mailbox forwarding')


def test_without_manage_as_app_every_exchange_step_is_missing():
    value = access(exchange=frozenset(), probe=acc.PROBE_REFUSED, probe_message='no Exchange.ManageAsApp')
    found = steps(value)
    for name in ('list', 'forwarding', 'protocols', 'unblock'):
        assert found[name]['status'] == 'missing' and found[name]['missing'] == ['Exchange.ManageAsApp'], name
    assert found['password']['status'] == 'ok'
    assert acc.blocking_message(acc.evaluate(value)) == (
        'the app lacks the Office 365 Exchange Online application permission Exchange.ManageAsApp, needed to read the Restricted '
        'Users list, remove mailbox forwarding and unblock the accounts (remove them from the Restricted Users list)')


def test_exchange_refusal_with_manage_as_app_means_no_supported_role():
    value = access(role_ids=None, probe=acc.PROBE_REFUSED, probe_message="The role assigned to application isn't supported")
    found = steps(value)
    assert found['list']['status'] == 'missing' and found['list']['missing'] == ['Security Administrator']
    assert "Exchange Online refused the app (The role assigned to application isn't supported)" in found['list']['action']
    assert found['unblock']['missing'] == ['Security Administrator']


def test_exchange_access_through_a_role_group_is_unknown_for_writes():
    # Exchange answered, yet the token names no role Exchange accepts: an Exchange role group grants the access.
    found = steps(access(role_ids=roles('User Administrator')))
    assert found['list']['status'] == 'ok'
    assert found['unblock']['status'] == 'unknown' and 'Exchange role group' in found['unblock']['action']
    assert found['forwarding']['status'] == 'unknown'


def test_no_exchange_token_leaves_exchange_unknown():
    value = access(exchange=None, probe=acc.PROBE_ERROR, exchange_error='[auth invalid_resource] resource principal not found')
    found = steps(value)
    for name in ('list', 'forwarding', 'unblock'):
        assert found[name]['status'] == 'unknown', name
    assert 'resource principal not found' in found['list']['action']
    assert acc.blocking(acc.evaluate(value)) == []


def test_no_graph_token_leaves_graph_unknown():
    found = steps(access(graph=None, graph_error='the access_token was issued for https://outlook.office365.com'))
    assert found['password']['status'] == 'unknown' and found['resolve']['status'] == 'unknown'
    assert 'the access_token was issued for' in found['resolve']['action']


def test_optional_folder_names_only_warn():
    found = steps(access(graph=ALL_GRAPH - {'Mail.ReadBasic.All'}))
    assert found['inbox_rules']['status'] == 'ok'
    assert found['inbox_rules']['warnings'] and 'Mail.ReadBasic.All' in found['inbox_rules']['action']


def test_an_app_without_any_permission():
    found = steps(access(graph=frozenset(), exchange=frozenset(), role_ids=frozenset({OTHER_ID}), probe=acc.PROBE_REFUSED))
    assert found['password']['missing'] == ['User-PasswordProfile.ReadWrite.All', 'User Administrator']
    assert found['resolve']['missing'] == ['User.Read.All']
    assert found['list']['missing'] == ['Exchange.ManageAsApp', 'Security Administrator']


# -- which steps the run takes --------------------------------------------------------------------------------------


@pytest.mark.parametrize('settings, name, expected', [
    ({}, 'password', True),
    ({}, 'sign_in', False),
    ({}, 'unblock', True),
    ({'unblock_email_reset_password': False}, 'password', False),
    ({'unblock_email_reset_password': 'false'}, 'password_admins', False),
    ({'unblock_email_reset_password': None}, 'password', True),
    ({'unblock_email_reset_password': ''}, 'password', True),
    ({'unblock_email_block_sign_in': 'yes'}, 'sign_in', True),
    ({'unblock_email_block_sign_in': True}, 'sign_in_admins', True),
    ({'unblock_email_inbox_rules': 'keep'}, 'inbox_rules', False),
    ({'unblock_email_inbox_rules': 'absent'}, 'inbox_rules', True),
    ({'unblock_email_disable_protocols': []}, 'protocols', False),
    ({'unblock_email_disable_protocols': ['pop']}, 'protocols', True),
    ({'unblock_email_remove_auth_methods': 1}, 'auth_methods', True),
    ({'something_else': True}, 'auth_methods', False),
])
def test_step_enabled(settings, name, expected):
    step = next(s for s in acc.STEPS if s.name == name)
    assert acc.step_enabled(step, settings) is expected


def test_only_steps_the_run_takes_block():
    value = access(graph=ALL_GRAPH - {'UserAuthenticationMethod.ReadWrite.All'})
    assert statuses(value)['auth_methods'] == 'missing'
    assert acc.blocking(acc.evaluate(value)) == []
    turned_on = acc.evaluate(value, {'unblock_email_remove_auth_methods': True})
    assert [s['name'] for s in acc.blocking(turned_on)] == ['auth_methods']
    # The Temporary Access Pass step needs the same permission: missing too, but not turned on.
    assert acc.counts(turned_on) == {'ok': 9, 'missing': 2, 'unknown': 2, 'blocking': 1}
    # And a default step turned off does not block.
    value = access(graph=ALL_GRAPH - {'User-PasswordProfile.ReadWrite.All'})
    assert [s['name'] for s in acc.blocking(acc.evaluate(value))] == ['password']
    assert acc.blocking(acc.evaluate(value, {'unblock_email_reset_password': False})) == []


# -- claims ---------------------------------------------------------------------------------------------------------


def test_claims():
    claims = {'roles': ['Exchange.ManageAsApp'], 'wids': [R['Exchange Administrator'].upper(), OTHER_ID], 'aud': 'https://outlook.office365.com'}
    assert acc.claim_list(claims, 'roles') == {'Exchange.ManageAsApp'}
    assert acc.claim_list({}, 'roles') is None
    assert acc.claim_list({'roles': 'One'}, 'roles') == {'One'}
    assert acc.role_ids_from({'roles': []}, None) is None
    assert acc.role_ids_from({'wids': []}, {'wids': [OTHER_ID]}) == {OTHER_ID}
    assert acc.role_ids_from(claims) == {R['Exchange Administrator'], OTHER_ID}
    assert acc.directory_roles(acc.role_ids_from(claims)) == [
        {'id': R['Exchange Administrator'], 'name': 'Exchange Administrator'}, {'id': OTHER_ID, 'name': None}]
    assert acc.audience_matches(claims, acc.EXCHANGE, 'https://outlook.office365.com/')
    assert acc.audience_matches({'aud': '00000003-0000-0000-c000-000000000000'}, acc.GRAPH, 'https://graph.microsoft.us')
    assert not acc.audience_matches(claims, acc.GRAPH, 'https://graph.microsoft.com')
    assert not acc.audience_matches({}, acc.GRAPH, 'https://graph.microsoft.com')


def test_claims_read_from_a_token():
    from ansible_collections.m365ops.remediation.plugins.module_utils.auth import jwt_claims  # pylint: disable=import-outside-toplevel

    claims = jwt_claims(jwt({'roles': ['User.Read.All'], 'wids': [R['User Administrator']]}))
    assert acc.claim_list(claims, 'roles') == {'User.Read.All'}
    assert acc.role_ids_from(claims) == {R['User Administrator']}


# -- the readable report --------------------------------------------------------------------------------------------


def report_of(value: acc.Access, **extra) -> dict:
    found = acc.evaluate(value)
    return dict(dict(tenant='contoso.com', tenant_id='6f1a9c3e-2b4d-4e8f-9a10-3c5d7e9f1b2a', client_id='3b7e1d42',
                     app_display_name='m365ops | remediation', graph_permissions=sorted(value.graph_permissions or []),
                     exchange_permissions=sorted(value.exchange_permissions) if value.exchange_permissions is not None else None,
                     directory_roles=acc.directory_roles(value.role_ids),
                     exchange_access={'status': value.probe, 'cmdlet': acc.PROBE_CMDLET, 'message': value.probe_message},
                     steps=found, counts=acc.counts(found), blocking_message=acc.blocking_message(found)), **extra)


def test_markdown_report_ready():
    text = acc.render_markdown(report_of(access(), label='contoso'))
    assert text.startswith('# Preflight of contoso\n')
    assert '- Tenant: 6f1a9c3e-2b4d-4e8f-9a10-3c5d7e9f1b2a (named contoso.com)' in text
    assert '- App: 3b7e1d42 (m365ops \\| remediation)' in text
    assert '- Entra roles of the app: Exchange Administrator, User Administrator (and 1 id not among' in text
    assert '- Exchange Online (Get-BlockedSenderAddress): ok' in text
    assert '| Reset passwords | default | ok | - |' in text
    assert '| Block sign-in | opt-in | ok | - |' in text
    assert text.rstrip().endswith('Result: ready: no step the run takes is known to be impossible (11 ok, 2 unknown, 0 missing).')
    # One row per step, each with four cells.
    rows = [line for line in text.splitlines() if line.startswith('| ') and not line.startswith('| Step') and not line.startswith('| ---')]
    assert len(rows) == len(acc.STEPS)
    assert all(row.replace('\\|', '').count('|') == 5 for row in rows)


def test_markdown_report_not_ready_and_unknown_roles():
    value = access(exchange=frozenset(), role_ids=None, probe=acc.PROBE_REFUSED, probe_message='HTTP 403 | no permission')
    text = acc.render_markdown(report_of(value))
    assert "- Entra roles of the app: unknown (the tokens carry no wids claim); check them in Entra ID" in text
    assert '- Office 365 Exchange Online application permissions: none' in text
    assert 'refused: HTTP 403 \\| no permission' in text
    assert 'Result: not ready: the app lacks the Office 365 Exchange Online application permission Exchange.ManageAsApp' in text
    text = acc.render_markdown(report_of(value, steps=acc.evaluate(value, {'unblock_email_block_sign_in': True})))
    assert '| Block sign-in | opt-in, on |' in text
