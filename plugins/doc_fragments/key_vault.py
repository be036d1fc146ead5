# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared documentation of the Azure Key Vault hand-over options (plugins/module_utils/connection.py holds their spec)."""

from __future__ import annotations


class ModuleDocFragment:
    """The vault a new credential is handed over to, and the vault's own credential."""

    DOCUMENTATION = r"""
options:
  key_vault_url:
    description:
      - The URL of an Azure Key Vault, C(https://<name>.vault.azure.net), that receives each user's new credential as a
        secret of its own, through Key Vault's REST API (C(api-version=7.4)).
      - The secret's name is derived from the tenant and the user (C(m365-<tenant>-<address>-<hash>)); each run adds a
        version, with the content type C(text/plain), an expiry (O(key_vault_secret_lifetime)) and the tags C(tenant),
        C(user), C(run), C(set), C(credential) and C(status).
      - The version is written before the reset, marked C(pending); a user whose version the vault refuses is not
        reset. After the reset its status becomes C(set), C(unknown) (the reset may or may not have been applied) or
        C(withdrawn) (the version is disabled).
      - "The app that signs in to the vault needs the Azure role C(Key Vault Secrets Officer) on the vault (a vault
        that uses Azure role-based access control)."
    type: str
  key_vault_secret_lifetime:
    description:
      - Days until each secret version expires (C(attributes.exp)).
    type: int
    default: 7
  key_vault_tenant_id:
    description:
      - The tenant the vault belongs to, when it is not the tenant remediated; a managed service provider keeps its
        vault in its own tenant. Left out, the vault is reached through the tenant remediated.
      - A vault of another tenant answers with a challenge that names its tenant; the task then fails and names it,
        for this option. The collection never follows a challenge to a tenant it was not given.
    type: str
  key_vault_client_id:
    description:
      - An app of its own for the vault. Left out, the tenant's app signs in to the vault (a multi-tenant app
        registered in the vault's tenant too, when O(key_vault_tenant_id) is given).
      - With it, give O(key_vault_client_secret) or O(key_vault_client_certificate_path), or let it sign in with the
        same federated token as the app (O(federated_token_file), O(federated_token_request_url)).
    type: str
  key_vault_client_secret:
    description:
      - The secret of O(key_vault_client_id).
    type: str
  key_vault_client_certificate_path:
    description:
      - A PEM file with the certificate and private key of O(key_vault_client_id).
    type: path
  key_vault_client_certificate_password:
    description:
      - The password of the private key in O(key_vault_client_certificate_path).
    type: str
"""
