# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Ansible Vault's text format (``$ANSIBLE_VAULT;1.1;AES256``, or ``1.2`` with a vault id), written and read here so
that a password file can be kept encrypted with the run's vault secret, whether the module runs in Ansible's worker
or is shipped: ``ansible-vault view`` and ``ansible-vault decrypt`` read it.

The format is Ansible's ``VaultAES256``: a 32-byte random salt; PBKDF2-HMAC-SHA256 (10,000 rounds) of the vault secret
gives 80 bytes, the AES-256 key, the HMAC-SHA256 key and the counter's initial value; the text, PKCS#7-padded, is
encrypted with AES-256 in CTR mode; the HMAC covers the ciphertext. The salt, the HMAC and the ciphertext, each in
hexadecimal, one per line, are put in hexadecimal once more and cut in lines of 80. ``cryptography`` is msal's own
dependency, so it is there wherever the collection runs; it is imported when a file is encrypted, not before (a module
that hands no file over does not pay for loading it in every worker).
"""

from __future__ import annotations

import binascii
import hmac
import os
import types

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error

HEADER = '$ANSIBLE_VAULT'
ROUNDS = 10000


def is_vault(text: str) -> bool:
    """Whether ``text`` is in Ansible Vault's format."""
    return text.lstrip().startswith(HEADER + ';')


def _crypto() -> types.SimpleNamespace:
    """cryptography's primitives, imported on first use."""
    try:
        # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import hashes, padding
        from cryptography.hazmat.primitives import hmac as crypto_hmac
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    except ImportError:
        raise M365Error('Ansible Vault encryption needs the Python library cryptography (a dependency of msal)',
                        code='missing_library') from None
    return types.SimpleNamespace(hashes=hashes, padding=padding, hmac=crypto_hmac, Cipher=Cipher, algorithms=algorithms,
                                 modes=modes, PBKDF2HMAC=PBKDF2HMAC)


def _keys(c: types.SimpleNamespace, secret: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    derived = c.PBKDF2HMAC(algorithm=c.hashes.SHA256(), length=80, salt=salt, iterations=ROUNDS).derive(secret)
    return derived[:32], derived[32:64], derived[64:80]


def encrypt(text: str, secret: bytes, vault_id: str | None = None) -> str:
    """``text`` encrypted with the vault secret, in Ansible Vault's format (1.2 with ``vault_id``, else 1.1)."""
    c = _crypto()
    salt = os.urandom(32)
    key, hmac_key, counter = _keys(c, secret, salt)
    padder = c.padding.PKCS7(c.algorithms.AES.block_size).padder()
    padded = padder.update(text.encode('utf-8')) + padder.finalize()
    encryptor = c.Cipher(c.algorithms.AES(key), c.modes.CTR(counter)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    signer = c.hmac.HMAC(hmac_key, c.hashes.SHA256())
    signer.update(ciphertext)
    body = b'\n'.join(binascii.hexlify(part) for part in (salt, signer.finalize(), ciphertext))
    hexed = binascii.hexlify(body).decode('ascii')
    header = '%s;1.2;AES256;%s' % (HEADER, vault_id) if vault_id else '%s;1.1;AES256' % HEADER
    return '\n'.join([header] + [hexed[i:i + 80] for i in range(0, len(hexed), 80)]) + '\n'


def decrypt(vaulted: str, secret: bytes) -> str:
    """The text of an Ansible Vault (AES256) encrypted with ``secret``; an M365Error when the secret is not its own."""
    c = _crypto()
    lines = vaulted.strip().splitlines()
    header = lines[0].split(';') if lines else []
    if len(header) < 3 or header[0] != HEADER or header[2].strip() != 'AES256':
        raise M365Error('not Ansible Vault AES256 text', code='not_vault')
    try:
        salt, signature, ciphertext = (binascii.unhexlify(part) for part in binascii.unhexlify(''.join(lines[1:])).split(b'\n', 2))
    except (ValueError, binascii.Error):
        raise M365Error('the Ansible Vault text is damaged', code='not_vault') from None
    key, hmac_key, counter = _keys(c, secret, salt)
    signer = c.hmac.HMAC(hmac_key, c.hashes.SHA256())
    signer.update(ciphertext)
    if not hmac.compare_digest(signer.finalize(), signature):
        raise M365Error('the vault secret of this run does not open it', code='vault_secret')
    decryptor = c.Cipher(c.algorithms.AES(key), c.modes.CTR(counter)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = c.padding.PKCS7(c.algorithms.AES.block_size).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode('utf-8')
