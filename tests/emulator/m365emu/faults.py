"""Fault rules (docs/development.md, "Fault rules"; services token, graph, exchange, keyvault): latency, error bursts,
dropped connections, token expiry, tokens issued for another tenant."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Any

SERVICES = ("token", "graph", "exchange", "keyvault", "*")


class FaultError(ValueError):
    """A fault rule is malformed."""


@dataclass
class Decision:
    """What the matching rules ask for one request (or one $batch item)."""

    latency: float = 0.0
    status: int | None = None
    retry_after: str | None = None
    drop: bool = False
    expire_tokens: bool = False
    token_tenant: str | None = None
    refusal: str | None = None
    fired: bool = False


class FaultRule:
    """One rule; ``remaining`` counts down a ``count`` burst."""

    def __init__(self, raw: dict[str, Any]) -> None:
        if not isinstance(raw, dict):
            raise FaultError("a fault rule must be an object")
        self.raw = dict(raw)
        self.service = str(raw.get("service", "*"))
        if self.service not in SERVICES:
            raise FaultError(f"unknown service {self.service!r}")
        self.tenant = str(raw.get("tenant", "*")).lower()
        try:
            self.path = re.compile(raw["path"]) if raw.get("path") else None
        except re.error as exc:
            raise FaultError(f"bad path regex: {exc}") from exc
        self.cmdlet = str(raw["cmdlet"]).lower() if raw.get("cmdlet") else None
        self.latency_ms = float(raw.get("latency_ms") or 0)
        self.jitter_ms = float(raw.get("jitter_ms") or 0)
        self.status = int(raw["status"]) if raw.get("status") is not None else None
        self.retry_after = str(raw["retry_after"]) if raw.get("retry_after") is not None else None
        self.rate = float(raw["rate"]) if raw.get("rate") is not None else None
        self.remaining = int(raw["count"]) if raw.get("count") is not None else None
        self.spare = int(raw.get("after") or 0)
        self.drop = bool(raw.get("drop", False))
        self.expire_tokens = bool(raw.get("expire_tokens", False))
        self.token_tenant = str(raw["token_tenant"]).strip() if raw.get("token_tenant") else None
        if self.token_tenant is not None and self.service != "token":
            raise FaultError("token_tenant applies to service 'token' only")
        # "refusal": "concurrency" answers with Exchange's plain-text refusal for the tenant's concurrency limit,
        # with the rule's status (429 unless given): the request is not run.
        self.refusal = str(raw["refusal"]) if raw.get("refusal") else None
        if self.refusal is not None:
            if self.refusal != "concurrency" or self.service != "exchange":
                raise FaultError("refusal must be 'concurrency' and applies to service 'exchange' only")
            if self.status is None:
                self.status = 429
        # "every": N acts on every Nth matching request only (the Nth, the 2Nth, ...).
        self.every = int(raw.get("every") or 1)
        if self.every < 1:
            raise FaultError("every must be 1 or more")
        self.seen = 0

    def matches(self, service: str, tenant_keys: set[str], target: str, cmdlet: str | None) -> bool:
        """Whether the rule's selectors match (count and rate are judged separately)."""
        if self.service not in ("*", service):
            return False
        if self.tenant not in ("*", "") and self.tenant not in tenant_keys:
            return False
        if self.path is not None and not self.path.search(target):
            return False
        if self.cmdlet is not None and (cmdlet or "").lower() != self.cmdlet:
            return False
        return True


class FaultEngine:
    """The active rules. ``scope`` is ``request`` for a plain request, ``envelope`` for a $batch POST, ``item`` for a $batch item.

    A $batch envelope takes latency and drops from every matching rule, but an error status only from a rule whose
    ``path`` names it explicitly; its items take error statuses and token expiry (Graph throttles items one by one).
    """

    def __init__(self, rng_seed: int = 0) -> None:
        self.lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.rng = random.Random(rng_seed)

    def set(self, raw_rules: list[dict[str, Any]]) -> None:
        """Replace all rules (validated first, so a bad list changes nothing)."""
        if not isinstance(raw_rules, list):
            raise FaultError("faults must be a list")
        rules = [FaultRule(r) for r in raw_rules]
        with self.lock:
            self.rules = rules

    def clear(self) -> None:
        """Remove every rule."""
        with self.lock:
            self.rules = []

    def describe(self) -> list[dict[str, Any]]:
        """The rules as given, with the remaining burst counts."""
        with self.lock:
            return [{**r.raw, "remaining": r.remaining} for r in self.rules]

    def evaluate(self, service: str, tenant_keys: set[str], target: str, cmdlet: str | None = None,
                 scope: str = "request", issues_token: bool = False) -> Decision:
        """Judge one request against the rules, consuming burst counts of the rules that act on it.

        ``issues_token`` says the request asks the token endpoint for a token: only there does ``token_tenant`` act.
        """
        decision = Decision()
        with self.lock:
            for rule in self.rules:
                if rule.remaining is not None and rule.remaining <= 0:
                    continue
                if not rule.matches(service, tenant_keys, target, cmdlet):
                    continue
                acts = self._apply(rule, decision, scope, issues_token)
                if not acts:
                    continue
                if rule.spare > 0:
                    rule.spare -= 1
                    continue
                if rule.every > 1:
                    rule.seen += 1
                    if rule.seen % rule.every:
                        continue
                if rule.rate is not None and self.rng.random() >= rule.rate:
                    continue
                acts(decision)
                decision.fired = True
                if rule.remaining is not None:
                    rule.remaining -= 1
        return decision

    def _apply(self, rule: FaultRule, decision: Decision, scope: str, issues_token: bool = False):
        """The effect ``rule`` has in ``scope`` as a callable, or None if it has none there."""
        latency = (rule.latency_ms or rule.jitter_ms) and scope != "item"
        status_ok = rule.status is not None and decision.status is None and not decision.drop and (
            scope != "envelope" or rule.path is not None)
        drop_ok = rule.drop and scope != "item" and decision.status is None
        expire_ok = rule.expire_tokens and (scope != "envelope" or rule.path is not None)
        tenant_ok = rule.token_tenant is not None and issues_token and decision.token_tenant is None
        if not (latency or status_ok or drop_ok or expire_ok or tenant_ok):
            return None

        def act(target: Decision) -> None:
            if latency:
                target.latency += max(0.0, rule.latency_ms + self.rng.uniform(-rule.jitter_ms, rule.jitter_ms)) / 1000.0
            if status_ok:
                target.status = rule.status
                target.retry_after = rule.retry_after
                target.refusal = rule.refusal
            if drop_ok:
                target.drop = True
            if expire_ok:
                target.expire_tokens = True
            if tenant_ok:
                target.token_tenant = rule.token_tenant
        return act
