"""m365emu: an HTTPS emulator of the Microsoft 365 endpoints the collection uses.

One server on 127.0.0.1 answers the Entra ID v2.0 token endpoint, Microsoft Graph v1.0 (users,
revokeSignInSessions, $batch), Exchange Online's admin REST endpoint (InvokeCommand) and Azure Key Vault's
secrets API, with fault injection, a request journal and a control API under ``/_emulator/``. See docs/development.md.
"""

from __future__ import annotations

__version__ = "1.0.0"
