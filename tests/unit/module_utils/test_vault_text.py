"""Ansible Vault's text format as the password file keeps it: Ansible's own VaultLib reads what vault_text writes,
and vault_text reads what VaultLib writes."""

from __future__ import annotations

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.m365ops.remediation.plugins.module_utils import vault_text
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error

SECRET = b'correct horse battery staple'
TEXT = '{\n  "tenant_id": "6f1a9c3e",\n  "users": {"rob@contoso.com": {"password": "x\\u00e9!9Aa{]", "status": "set"}}\n}\n'


@pytest.mark.parametrize('vault_id', [None, 'handover'])
def test_ansible_reads_what_is_written(vault_id):
    vaulted = vault_text.encrypt(TEXT, SECRET, vault_id)
    assert vault_text.is_vault(vaulted) and 'rob@contoso.com' not in vaulted
    assert vaulted.splitlines()[0] == ('$ANSIBLE_VAULT;1.2;AES256;handover' if vault_id else '$ANSIBLE_VAULT;1.1;AES256')
    assert all(len(line) <= 80 for line in vaulted.splitlines())
    lib = VaultLib([(vault_id or 'default', VaultSecret(SECRET))])
    assert lib.decrypt(vaulted).decode('utf-8') == TEXT


def test_what_ansible_writes_is_read():
    vaulted = VaultLib([('default', VaultSecret(SECRET))]).encrypt(TEXT, VaultSecret(SECRET)).decode('ascii')
    assert vault_text.decrypt(vaulted, SECRET) == TEXT


def test_another_secret_or_damage_is_refused():
    vaulted = vault_text.encrypt(TEXT, SECRET)
    with pytest.raises(M365Error, match='does not open it'):
        vault_text.decrypt(vaulted, b'another secret')
    with pytest.raises(M365Error, match='not Ansible Vault'):
        vault_text.decrypt(TEXT, SECRET)
    lines = vaulted.splitlines()
    with pytest.raises(M365Error, match='damaged'):
        vault_text.decrypt('\n'.join(lines[:1] + ['zz' + lines[1][2:]] + lines[2:]), SECRET)
    assert vault_text.encrypt(TEXT, SECRET) != vaulted, 'a fresh salt each time'
