# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared documentation: authentication, endpoints and transport options of every module."""

from __future__ import annotations


class ModuleDocFragment:
    """Options, notes and attributes written once for all modules of the collection."""

    DOCUMENTATION = r"""
options:
  tenant_id:
    description:
      - The Entra ID tenant to act on, by its id (a GUID) or one of its verified domains.
      - Falls back to the E(AZURE_TENANT_ID) environment variable, unless O(environment_tenant=refuse).
    type: str
  environment_tenant:
    description:
      - Whether the tenant may come from the E(AZURE_TENANT_ID) environment variable when O(tenant_id) is not
        given.
      - V(refuse) fails the task before any request when O(tenant_id) is not given. For plays with one
        inventory host per tenant, where the environment can name only one of them (the
        P(m365ops.remediation.unblock_email#role) role sets it when the play or the inventory holds several
        tenant hosts). The app's credentials may still come from the environment.
    type: str
    choices: [allow, refuse]
    default: allow
  client_id:
    description:
      - Application (client) id of the app registration the module authenticates as.
      - Falls back to the E(AZURE_CLIENT_ID) environment variable.
    type: str
  client_secret:
    description:
      - Client secret of the app registration.
      - Falls back to the E(AZURE_CLIENT_SECRET) environment variable.
    type: str
  client_certificate_path:
    description:
      - Path to the app's certificate with its private key, either a PEM file (key and certificate) or a
        PKCS#12 (PFX) file. The thumbprint is computed from the certificate.
      - Takes precedence over O(client_secret) and O(federated_token_file).
      - Falls back to the E(AZURE_CLIENT_CERTIFICATE_PATH) environment variable.
    type: path
  client_certificate_password:
    description:
      - Password of the private key in O(client_certificate_path), when it is encrypted.
      - Falls back to the E(AZURE_CLIENT_CERTIFICATE_PASSWORD) environment variable.
    type: str
  federated_token_file:
    description:
      - Path to a file holding a federated (workload identity) token, as written by Kubernetes or a CI
        provider. The file is read again for every token request, so a rotated token is picked up.
      - Takes precedence over O(client_secret).
      - Falls back to the E(AZURE_FEDERATED_TOKEN_FILE) environment variable.
    type: path
  federated_token:
    description:
      - A federated (workload identity) token given as a value instead of a file.
    type: str
  federated_token_request_url:
    description:
      - URL from which a CI job requests its OIDC token, used as the federated token when no other credential
        is set. In GitHub Actions this is E(ACTIONS_ID_TOKEN_REQUEST_URL), which the runner sets when the job
        is allowed to request one (C(id-token) permission set to C(write)); O(federated_token_audience) is
        appended to it as C(&audience=).
      - The token is requested again when it is within a minute of its expiry, so runs longer than its
        lifetime keep working.
      - Falls back to the E(ACTIONS_ID_TOKEN_REQUEST_URL) environment variable.
    type: str
  federated_token_request_token:
    description:
      - Bearer token that authorizes the request to O(federated_token_request_url).
      - Falls back to the E(ACTIONS_ID_TOKEN_REQUEST_TOKEN) environment variable.
    type: str
  federated_token_audience:
    description:
      - Audience requested from O(federated_token_request_url); it must match the audience of the app's
        federated credential. Use V(api://AzureADTokenExchangeUSGov) or V(api://AzureADTokenExchangeChina)
        in those national clouds.
    type: str
    default: api://AzureADTokenExchange
  access_token:
    description:
      - A pre-acquired access token, used as it is for every request instead of signing in. It must be valid
        for the service the module calls (Microsoft Graph or Exchange Online).
      - Takes precedence over every other authentication option.
    type: str
  authority_host:
    description:
      - The Entra ID authority host. Change it for a national cloud.
      - Falls back to the E(AZURE_AUTHORITY_HOST) environment variable.
    type: str
    default: https://login.microsoftonline.com
  graph_endpoint:
    description:
      - Base URL of Microsoft Graph.
      - Falls back to the E(M365_GRAPH_ENDPOINT) environment variable.
    type: str
    default: https://graph.microsoft.com
  exchange_endpoint:
    description:
      - Base URL of Exchange Online.
      - Falls back to the E(M365_EXCHANGE_ENDPOINT) environment variable.
    type: str
    default: https://outlook.office365.com
  ca_bundle:
    description:
      - A file of CA certificates to trust for every connection the module makes, for example behind a
        TLS-inspecting proxy. TLS certificates are always verified.
      - It is used even when E(REQUESTS_CA_BUNDLE) is set in the environment.
      - Falls back to the E(M365_CA_BUNDLE) environment variable.
    type: path
  request_timeout:
    description:
      - Seconds to wait for one HTTP response.
    type: float
    default: 60
  max_retries:
    description:
      - How many times one request is retried after throttling (HTTP 429), HTTP 503 or 504, or a connection
        error. A write is never retried after an error that could mean it was applied.
    type: int
    default: 5
  max_retry_wait:
    description:
      - The most seconds spent waiting between retries of one request, in total. A V(Retry-After) header
        asking for longer ends the retries.
    type: float
    default: 120
notes:
  - Authentication uses the first of O(access_token), O(client_certificate_path), O(federated_token_file) or
    O(federated_token), O(client_secret), and O(federated_token_request_url) that is set.
  - The module runs on the Ansible controller and needs the Python packages C(msal) and C(requests) there.
  - Secrets (O(client_secret), O(client_certificate_password), O(federated_token), O(federated_token_request_token),
    O(access_token)) are never
    logged; tenant and client ids are not secret and stay visible.
requirements:
  - msal >= 1.24.0
  - requests >= 2.28.0
"""

    ATTRIBUTES = r"""
attributes:
  action:
    description:
      - An action plugin of the same name runs the module inside Ansible's worker process when the task targets the
        controller (C(connection=local), no become, no C(async), the host's Python is the controller's), which spares a
        Python start and the imports of C(requests) and C(msal) for each task. Anything else ships the module as usual.
      - Set the variable C(m365_in_process=false) to always ship it.
    support: full
  action_group:
    description: Use C(group/m365ops.remediation.m365) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - m365ops.remediation.m365
  idempotent:
    description: Run again with the same options, the module reports no change and sends no write request.
  platform:
    platforms: posix
    support: full
    description: Runs on the Ansible controller and reaches Microsoft 365 over HTTPS.
"""

    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details: This module only reads.
  diff_mode:
    support: N/A
    details: This module only reads.
  idempotent:
    support: full
"""
