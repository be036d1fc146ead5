"""The hand-over's pure logic: Key Vault secret names and tags, challenges, the vault's credential options, the
Temporary Access Pass policy, and the job's artifacts. The vault and Graph themselves: tests/integration/test_handover.py."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from ansible_collections.m365ops.remediation.plugins.module_utils import connection, key_vault
from ansible_collections.m365ops.remediation.plugins.module_utils.handover import Entry, HeldTarget, KeyVaultTarget
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import access_passes, vault_secrets
from ansible_collections.m365ops.remediation.plugins.plugin_utils import report_text

TENANT = '6f1a9c3e-2b4d-4e8f-9a10-3c5d7e9f1b2a'


def test_secret_names_follow_key_vault_rules_and_never_collide():
    names = [vault_secrets.secret_name(TENANT, user) for user in (
        'rob@contoso.com', 'ROB@contoso.com', 'r.ob@contoso.com', 'r-ob@contoso.com', 'ann_fabrikam.com#EXT#@contoso.onmicrosoft.com',
        'x' * 300 + '@contoso.com')]
    for name in names:
        assert re.match(r'^[0-9a-zA-Z-]{1,127}$', name), name
        assert '--' not in name
    assert names[0] == names[1], 'one user, one secret, whatever the case'
    assert len(set(names[1:])) == len(names) - 1
    assert names[0].startswith('m365-%s-rob-contoso-com-' % TENANT)
    assert vault_secrets.secret_name(TENANT, 'rob@contoso.com') != vault_secrets.secret_name('0c4b8e2a-7d1f-4a3c-b5e9-8f2d6a1c3e70', 'rob@contoso.com')


def test_tags_hold_who_when_and_status_never_a_value():
    when = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)
    found = vault_secrets.tags(TENANT, 'rob@contoso.com', 'abc123', 'temporary_access_pass', 'pending', when)
    assert found == {'tenant': TENANT, 'user': 'rob@contoso.com', 'run': 'abc123', 'credential': 'temporary-access-pass',
                     'status': 'pending', 'set': '2026-12-03T08:00:00Z', 'managed-by': 'm365ops.remediation'}
    assert 'run' not in vault_secrets.tags(TENANT, 'u', None, 'password', 'set', when)


@pytest.mark.parametrize('header, tenant', [
    ('Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"',
     '72f988bf-86f1-41af-91ab-2d7cd011db47'),
    ('Bearer authorization_uri="https://login.windows.net/72F988BF-86F1-41AF-91AB-2D7CD011DB47/", resource="https://vault.azure.net"',
     '72f988bf-86f1-41af-91ab-2d7cd011db47'),
    ('Bearer authorization="https://127.0.0.1:8443/0c4b8e2a-7d1f-4a3c-b5e9-8f2d6a1c3e70", scope="https://vault.azure.net/.default"',
     '0c4b8e2a-7d1f-4a3c-b5e9-8f2d6a1c3e70'),
    ('Bearer realm="", error="invalid_token"', None),
    ('', None),
    (None, None),
])
def test_challenge_names_the_vault_tenant(header, tenant):
    assert key_vault.challenge_tenant(header) == tenant


def test_vault_resource_by_cloud():
    assert key_vault.vault_resource('https://contoso.vault.azure.net') == 'https://vault.azure.net'
    assert key_vault.vault_resource('https://gov.vault.usgovcloudapi.net/') == 'https://vault.usgovcloudapi.net'
    assert key_vault.vault_resource('https://cn.vault.azure.cn') == 'https://vault.azure.cn'
    assert key_vault.vault_resource('https://127.0.0.1:8443/vaults/msp') == 'https://vault.azure.net'


def test_version_of_a_secret_id():
    assert key_vault.version_of('https://v.vault.azure.net/secrets/name/0123abcd') == '0123abcd'
    assert key_vault.version_of('https://127.0.0.1:8443/vaults/msp/secrets/name/0123abcd') == '0123abcd'
    assert key_vault.version_of('https://v.vault.azure.net/secrets/name') is None
    assert key_vault.version_of(None) is None


def test_vault_credential_takes_the_apps_unless_given_its_own():
    app = {'tenant_id': 'contoso.com', 'client_id': 'app', 'client_secret': 'app-secret', 'federated_token_file': '/t',
           'authority_host': 'https://login.microsoftonline.com'}
    same = connection.vault_options(dict(app, key_vault_tenant_id='msp.example'))
    assert (same['tenant_id'], same['client_id'], same['client_secret']) == ('msp.example', 'app', 'app-secret')
    own = connection.vault_options(dict(app, key_vault_client_id='vault-app', key_vault_client_secret='vault-secret'))
    assert (own['tenant_id'], own['client_id'], own['client_secret']) == ('contoso.com', 'vault-app', 'vault-secret')
    federated = connection.vault_options(dict(app, key_vault_client_id='vault-app'))
    assert 'client_secret' not in federated and federated['federated_token_file'] == '/t'
    assert 'access_token' not in connection.vault_options(dict(app, access_token='eyJ.x.y'))


def test_key_vault_argument_spec_hides_the_secrets():
    spec = connection.key_vault_argument_spec()
    assert spec['key_vault_client_secret']['no_log'] and spec['key_vault_client_certificate_password']['no_log']
    assert not spec['key_vault_url']['no_log'] and spec['key_vault_secret_lifetime']['default'] == 7


def test_pass_refusals_say_what_to_do():
    policy_off = M365Error('Temporary Access Pass is not enabled for this user.', service='graph', status=400, code='badRequest')
    assert 'Temporary Access Pass policy' in access_passes.refusal(policy_off)
    denied = M365Error('Insufficient privileges to complete the operation.', service='graph', status=403, code='accessDenied')
    assert 'UserAuthenticationMethod.ReadWrite.All' in access_passes.refusal(denied)
    busy = M365Error('Service unavailable', service='graph', status=503)
    assert access_passes.refusal(busy) == str(busy)


def test_pass_issued_since():
    passes = [{'id': 'a', 'createdDateTime': '2026-11-19T08:00:00Z'}, {'id': 'b', 'createdDateTime': '2026-11-21T08:00:00Z'}]
    assert access_passes.issued_since(passes, '2026-11-20T08:00:00Z')['id'] == 'b'
    assert access_passes.issued_since(passes[:1], '2026-11-20T08:00:00Z') is None
    assert access_passes.issued_since(passes, None)['id'] == 'b'
    assert access_passes.issued_since([], None) is None


class FakeSecrets:
    """A vault that records what it is asked (no value is kept), or refuses like Key Vault without the role."""

    url = 'https://v.vault.azure.net'

    def __init__(self, refuse=None):
        self.calls, self.refuse = [], refuse

    def put(self, name, value, tags, now):
        if self.refuse:
            raise self.refuse
        self.calls.append(('put', name, tags['status'], value == vault_secrets.PLACEHOLDER))
        return 'v%d' % len(self.calls)

    def settle(self, name, version, tags, enabled=True):
        self.calls.append(('settle', version, tags['status'], enabled))


def test_key_vault_target_writes_ahead_then_settles():
    secrets = FakeSecrets()
    target = KeyVaultTarget(secrets, lambda: TENANT, 'run1', max_workers=1)
    rob, ann, pass_user = Entry('rob', 'rob@c'), Entry('ann', 'ann@c'), Entry('tap', 'tap@c', kind='temporary_access_pass')
    rob.value, ann.value = 'pw-rob', 'pw-ann'
    assert target.write([rob, ann, pass_user]) == {}
    rob.status, ann.status = 'set', 'withdrawn'
    pass_user.value, pass_user.status = 'tap-value', 'set'
    assert target.write([rob, ann, pass_user]) == {}
    assert secrets.calls[:3] == [('put', rob.where['secret'], 'pending', False), ('put', ann.where['secret'], 'pending', False),
                                 ('put', pass_user.where['secret'], 'pending', True)]
    assert secrets.calls[3:] == [('settle', 'v1', 'set', True), ('settle', 'v2', 'withdrawn', False),
                                 ('put', pass_user.where['secret'], 'set', False)]
    assert rob.record() == {'target': 'key_vault', 'vault': secrets.url, 'secret': rob.where['secret'], 'version': 'v1',
                            'kind': 'password', 'status': 'set'}


def test_key_vault_target_stops_at_the_first_refusal():
    refusal = M365Error('refused', service='keyvault', status=403, code='ForbiddenByRbac')
    secrets = FakeSecrets(refuse=refusal)
    target = KeyVaultTarget(secrets, lambda: TENANT, None)
    entries = [Entry(str(i), 'u%d@c' % i, value='pw%d' % i) for i in range(5)]
    errors = target.write(entries)
    assert set(errors) == {e.ref for e in entries} and all(error is refusal for error in errors.values())


def test_held_target_writes_nothing():
    entry = Entry('rob', 'rob@c', value='pw')
    assert HeldTarget().write([entry]) == {} and entry.record() == {'target': 'result', 'kind': 'password', 'status': 'pending'}


def test_job_stats_name_failed_users_and_where_credentials_went():
    report = {
        'tenant': 'contoso', 'tenant_id': TENANT, 'check_mode': False, 'failed': True, 'error': None,
        'run': {'id': 'run1'},
        'counts': {'users': 2, 'password_reset': 1, 'sessions_revoked': 1, 'unblocked': 1, 'already_remediated': 0,
                   'not_restricted': 0, 'skipped': 0, 'failed': 1, 'steps': {}},
        'users': [
            {'user': 'rob@contoso.com', 'user_principal_name': 'rob@contoso.com', 'outcome': 'remediated',
             'credential': {'target': 'key_vault', 'vault': 'https://v', 'secret': 's', 'version': '1', 'kind': 'password',
                            'status': 'set'}, 'steps': {}},
            {'user': 'dana@contoso.com', 'user_principal_name': 'dana@contoso.com', 'outcome': 'failed',
             'steps': {'password': {'status': 'failed', 'msg': 'synchronised from on-premises Active Directory'}}},
        ],
    }
    stats = report_text.job_stats(report, '/r/contoso.json')
    assert stats['failed_users'] == [{'user': 'dana@contoso.com', 'reason': report_text._reason(report['users'][1], report)}]
    assert 'on-premises' in stats['failed_users'][0]['reason']
    assert stats['credentials'] == {'rob@contoso.com': {'target': 'key_vault', 'vault': 'https://v', 'secret': 's', 'version': '1',
                                                        'kind': 'password', 'status': 'set'}}
    assert stats['counts']['failed'] == 1 and 'steps' not in stats['counts']
    assert (stats['report'], stats['run'], stats['failed_users_not_named']) == ('/r/contoso.json', 'run1', 0)


def test_summary_says_where_the_new_credentials_went():
    vault = {'target': 'key_vault', 'vault': 'https://v.vault.azure.net', 'secret': 's', 'kind': 'password', 'status': 'set'}
    report = {'users': [{'credential': vault}, {'credential': dict(vault, kind='temporary_access_pass')},
                        {'credential': dict(vault, status='withdrawn')}, {'credential': None},
                        {'steps': {'password': {'status': 'done'}}}],
              'password_file': '/p/x.json'}
    lines = report_text.handed_over_lines([report])
    assert lines == [
        'New credentials: 1 password(s) and 1 Temporary Access Pass(es) in Key Vault https://v.vault.azure.net (a secret per '
        'user, tagged with the user and the run); hand them to the users by phone or in person, never by e-mail.',
        'New credentials: 1 credential(s) in file /p/x.json; hand them to the users by phone or in person, never by e-mail.',
    ]
