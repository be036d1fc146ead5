"""``EmulatorProcess``: run the emulator as a subprocess and drive its control API from tests."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # tests/emulator


class EmulatorError(RuntimeError):
    """The emulator did not start, or a control call failed."""


class EmulatorProcess:
    """One emulator subprocess. ``start()`` (or ``with``) launches it; ``stop()`` ends it.

    ``seed`` is a seed dict, or the path of a seed JSON file.
    """

    def __init__(self, seed: dict[str, Any] | str | Path, *, workdir: Path, extra_args: list[str] | tuple[str, ...] = (),
                 start_timeout: float = 15.0) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if isinstance(seed, dict):
            self.seed_path = self.workdir / "seed.json"
            self.seed_path.write_text(json.dumps(seed), encoding="utf-8")
        else:
            self.seed_path = Path(seed)
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.info_file = self.workdir / "emulator-info.json"
        self.state_dir = self.workdir / "state"
        self.log_path = self.workdir / "emulator.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.ca_path = ""
        self.pid = 0
        self._ssl: ssl.SSLContext | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> "EmulatorProcess":
        """Launch and wait (bounded) until it listens."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        if self.info_file.exists():
            self.info_file.unlink()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        cmd = [sys.executable, "-m", "m365emu", "serve", "--seed", str(self.seed_path), "--info-file", str(self.info_file),
               "--state-dir", str(self.state_dir)] + self.extra_args
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)  # pylint: disable=consider-using-with
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EmulatorError(f"emulator exited with {self.proc.returncode}: {self._log_tail()}")
            if self.info_file.exists():
                info = json.loads(self.info_file.read_text(encoding="utf-8"))
                self.base_url, self.ca_path, self.pid = info["base_url"], info["ca_path"], info["pid"]
                self._ssl = ssl.create_default_context(cafile=self.ca_path)
                return self
            time.sleep(0.02)
        self.stop()
        raise EmulatorError(f"emulator did not start within {self.start_timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL if needed; returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        return proc.returncode

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- control API -----------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        if not self.base_url or self._ssl is None:
            raise EmulatorError("emulator not started")
        data = json.dumps(payload).encode("utf-8") if payload is not None else None
        req = urllib.request.Request(f"{self.base_url}/_emulator/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=30) as resp:  # nosec B310 (https to our own emulator)
                body = resp.read()
        except urllib.error.HTTPError as exc:
            raise EmulatorError(f"{method} /_emulator/{path}: {exc.code} {exc.read().decode('utf-8', 'replace')}") from exc
        return json.loads(body) if body else None

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        """Journal entries with ``seq >= since``."""
        return self._call("GET", f"journal?since={int(since)}")["entries"]

    def mark(self) -> int:
        """The seq the next journaled request will get (pass it to ``journal``/``writes`` later)."""
        return self._call("GET", "journal?since=999999999999")["next"]

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        """Write requests since ``since``: plain entries with ``write`` true, plus each $batch item that is a write.

        A batch item is returned as ``{seq, time, tenant, service, method, path, status, write, batch_id, fields}``
        with ``path`` = ``/v1.0`` + the item url. Key Vault writes (service ``keyvault``: PUT, PATCH, DELETE under
        ``/vaults/{name}``, tenant = the vault's) are plain entries.
        """
        out = []
        for entry in self.journal(since):
            if entry.get("write"):
                out.append(entry)
            for item in entry.get("batch_items") or []:
                if item.get("write"):
                    out.append({"seq": entry["seq"], "time": entry["time"], "tenant": entry["tenant"], "service": entry["service"],
                                "method": item["method"], "path": "/v1.0/" + item["url"].lstrip("/"), "cmdlet": None,
                                "status": item["status"], "write": True, "batch_id": item["id"],
                                "fields": item.get("fields") or []})
        return out

    def reset(self, seed: dict[str, Any] | None = None) -> None:
        """Replace the state with ``seed`` (or the start seed); clears journal, faults and counters."""
        self._call("POST", "reset", seed if seed is not None else {})

    def set_faults(self, faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the fault rules."""
        return self._call("POST", "faults", {"faults": faults})["faults"]

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules as set, each with its ``remaining`` count."""
        return self._call("GET", "faults")["faults"]

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._call("DELETE", "faults")

    def state(self, tenant: str) -> dict[str, Any]:
        """Users (no password material), restricted list, mailboxes and unblock counts of one tenant."""
        return self._call("GET", f"state?tenant={quote(tenant)}")

    def restrict(self, tenant: str, address: str, reason: str | None = None) -> dict[str, Any]:
        """Put ``address`` on the tenant's Restricted Users list now."""
        payload: dict[str, Any] = {"tenant": tenant, "address": address}
        if reason is not None:
            payload["reason"] = reason
        return self._call("POST", "restrict", payload)["restricted"]

    def issued_tokens(self) -> list[str]:
        """Every access token the emulator has issued since it started (to search output for them)."""
        return self._call("GET", "tokens")["tokens"]

    def stats(self) -> dict[str, Any]:
        """Request counters."""
        return self._call("GET", "stats")

    # -- Key Vault -------------------------------------------------------------------------------------------

    def vault_url(self, name: str) -> str:
        """The URL of a vault of the emulator: ``{base_url}/vaults/{name}``."""
        return f"{self.base_url}/vaults/{name}"

    def vault(self, name: str) -> dict[str, Any]:
        """A vault's name, tenant, url, role assignments and each secret's versions (attributes, tags, content type;
        never a value)."""
        return self._call("GET", f"vaults/{quote(name, safe='')}")

    def vault_compare(self, name: str, secret: str, tenant: str, user: str, as_: str = "password", version: str | None = None) -> bool:
        """Whether a version of a secret (default: the newest) holds the user's current password (``as_`` ``password``)
        or current Temporary Access Pass (``temporary_access_pass``), compared through the emulator's fingerprints."""
        payload: dict[str, Any] = {"secret": secret, "tenant": tenant, "user": user, "as": as_}
        if version is not None:
            payload["version"] = version
        return bool(self._call("POST", f"vaults/{quote(name, safe='')}/compare", payload)["matches"])

    def vault_holds(self, name: str, tenant: str, user: str, as_: str = "password") -> list[dict[str, str]]:
        """Every secret version of the vault (``{"secret", "version"}``) whose value is the user's current password or
        Temporary Access Pass (``as_``): to prove that none holds it."""
        return self._call("POST", f"vaults/{quote(name, safe='')}/holds", {"tenant": tenant, "user": user, "as": as_})["versions"]

    def credential_in(self, text: str, tenant: str, user: str, as_: str = "password") -> bool:
        """Whether ``text`` holds the user's current password (or Temporary Access Pass: ``as_``) anywhere, compared through
        the emulator's fingerprints: a test's proof that output or files never hold a credential it cannot read."""
        return bool(self._call("POST", "credential_in", {"tenant": tenant, "user": user, "as": as_, "text": text})["found"])

    def add_vault(self, name: str, tenant: str, role_assignments: list[dict[str, str]]) -> dict[str, Any]:
        """Add a vault (``role_assignments``: ``[{"client_id", "role"}]``), or replace the tenant and role assignments of
        the vault of that name (its secrets stay); until the next reset."""
        return self._call("POST", "key_vaults", {"name": name, "tenant": tenant, "role_assignments": role_assignments})

    def oidc_token(self, subject: str, audience: str = "api://AzureADTokenExchange", lifetime: float = 300,
                   path: str | Path | None = None) -> str:
        """A token of the emulator's OIDC issuer (negative ``lifetime``: already expired); written to ``path`` if given."""
        token = self._call("POST", "oidc/token", {"subject": subject, "audience": audience, "lifetime": lifetime})["token"]
        if path is not None:
            Path(path).write_text(token, encoding="utf-8")
        return token

    def oidc_job(self, subject: str, lifetime: float = 300) -> dict[str, str]:
        """A CI job of the OIDC issuer: ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``..._TOKEN`` minting tokens for ``subject``."""
        job = self._call("POST", "oidc/request_token", {"subject": subject, "lifetime": lifetime})
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": job["request_url"], "ACTIONS_ID_TOKEN_REQUEST_TOKEN": job["request_token"]}

    def oidc_minted(self) -> int:
        """How many tokens the OIDC issuer has signed since start."""
        return self._call("GET", "oidc/stats")["minted"]

    def env(self) -> dict[str, str]:
        """Environment variables that point a module at this emulator."""
        return {"AZURE_AUTHORITY_HOST": self.base_url, "M365_GRAPH_ENDPOINT": self.base_url,
                "M365_EXCHANGE_ENDPOINT": self.base_url, "M365_CA_BUNDLE": self.ca_path}
