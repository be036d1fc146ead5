"""Vendor the reference data the conformance check reads: a reduced copy of ``../shared/reference/*.json``.

Run from the repository root (``.venv/bin/python tests/conformance/vendor.py [SOURCE_DIR]``); SOURCE_DIR defaults to
``../shared/reference``. It writes ``tests/conformance/reference/graph-v1.json`` and ``exchange-cmdlets.json``, keeping:

* Graph: the source block, the aliases, the paths under the areas the collection calls or will call (:data:`AREAS`),
  each with its kind, type, methods (query options, ``nonExpandable``, ``requiredOneOf``) and operation parameters;
  then the entity, complex and enum types reachable from those paths (through properties, navigation properties,
  base types and derived types), each with its base, openness, properties (type, collection, nullable, computed,
  immutable), navigation properties (type, collection) and enum members. Descriptions and everything else go.
* Exchange: the source block and every cmdlet, each with its parameter sets (parameters, mandatory, parameters not
  usable in Exchange Online, ``exo_usable``) and its parameters (type, aliases, sets). Descriptions, synopses,
  positions, defaults and the extraction's consistency warnings go.

The output is sorted and stable, so that running it again on the same source changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent.parent / "shared" / "reference"
OUT = HERE / "reference"

# Path templates kept: these prefixes and everything under them (the areas the source's README lists). The user's own
# operations that are no remediation step (findMeetingTimes, sendMail, exportPersonalData, ...) are left out.
AREAS = (
    "/$batch",
    "/users",
    "/users/$count",
    "/users(userPrincipalName='{userPrincipalName}')",
    "/users/{user-id}",
    "/users/{user-id}/revokeSignInSessions",
    "/users/{user-id}/mailFolders",
    "/users/{user-id}/authentication",
    "/users/{user-id}/oauth2PermissionGrants",
    "/users/{user-id}/appRoleAssignments",
    "/users/{user-id}/memberOf",
    "/oauth2PermissionGrants",
    "/servicePrincipals",
    "/directoryRoles",
    "/roleManagement/directory",
    "/organization",
    "/security/alerts_v2",
    "/security/incidents",
    "/auditLogs/signIns",
    "/domains",
)
# Only the exact template, not what is under it (the rest of /users/{user-id} is kept through its own entry above).
EXACT = {"/users", "/users/$count", "/users/{user-id}", "/users(userPrincipalName='{userPrincipalName}')"}

PATH_METHOD_KEYS = ("query", "nonExpandable", "requiredOneOf", "custom")
PROPERTY_KEYS = ("type", "collection", "nullable", "computed", "immutable")


def keep_path(template: str) -> bool:
    """Whether a path template belongs to the vendored areas."""
    for area in AREAS:
        if template == area:
            return True
        if area not in EXACT and (template.startswith(area + "/") or template.startswith(area + "(")):
            return True
    return False


def reduce_graph(source: dict[str, Any]) -> dict[str, Any]:
    """The Graph subset the check reads."""
    paths: dict[str, Any] = {}
    wanted: set[str] = set()
    for template, spec in sorted(source["paths"].items()):
        if not keep_path(template):
            continue
        out: dict[str, Any] = {"kind": spec["kind"], "type": spec.get("type", "")}
        if spec.get("collection"):
            out["collection"] = True
        out["methods"] = {m: {k: v[k] for k in PATH_METHOD_KEYS if k in v} for m, v in sorted(spec["methods"].items())}
        operation = spec.get("operation")
        if operation:
            out["operation"] = {"name": operation["name"], "kind": operation["kind"],
                                "overloads": [{"binding": o.get("binding", ""),
                                               "parameters": {n: {k: p[k] for k in PROPERTY_KEYS + ("optional",) if k in p}
                                                              for n, p in sorted((o.get("parameters") or {}).items())}}
                                              for o in operation.get("overloads") or []]}
            for overload in out["operation"]["overloads"]:
                wanted.update(p["type"] for p in overload["parameters"].values())
        if out["type"]:
            wanted.add(out["type"])
        paths[template] = out
    types = _reachable(source["types"], wanted)
    return {"source": source["source"], "reduced": "tests/conformance/vendor.py", "aliases": source.get("aliases", {}),
            "paths": paths, "types": types}


def _reachable(all_types: dict[str, Any], start: set[str]) -> dict[str, Any]:
    derived: dict[str, set[str]] = {}
    for name, spec in all_types.items():
        if spec.get("base"):
            derived.setdefault(spec["base"], set()).add(name)
    seen: set[str] = set()
    todo = [t for t in start if t in all_types]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = all_types[name]
        refs = [p["type"] for p in (spec.get("properties") or {}).values()]
        refs += [p["type"] for p in (spec.get("navigation") or {}).values()]
        refs += [spec["base"]] if spec.get("base") else []
        refs += sorted(derived.get(name, ()))
        todo.extend(r for r in refs if r in all_types and r not in seen)
    out: dict[str, Any] = {}
    for name in sorted(seen):
        spec = all_types[name]
        reduced: dict[str, Any] = {"kind": spec["kind"]}
        for key in ("base", "abstract", "open", "flags"):
            if spec.get(key):
                reduced[key] = spec[key]
        if spec.get("members"):
            reduced["members"] = spec["members"]
        if spec.get("properties"):
            reduced["properties"] = {n: {k: p[k] for k in PROPERTY_KEYS if k in p} for n, p in sorted(spec["properties"].items())}
        if spec.get("navigation"):
            reduced["navigation"] = {n: {k: p[k] for k in ("type", "collection") if k in p} for n, p in sorted(spec["navigation"].items())}
        out[name] = reduced
    return out


def reduce_exchange(source: dict[str, Any]) -> dict[str, Any]:
    """The Exchange cmdlet subset the check reads."""
    cmdlets: dict[str, Any] = {}
    for name, spec in sorted(source["cmdlets"].items()):
        sets = {s: {"parameters": v.get("parameters", []), "mandatory": v.get("mandatory", []),
                    "dropped_non_exo": v.get("dropped_non_exo", []), "exo_usable": v.get("exo_usable", True)}
                for s, v in sorted(spec["parameter_sets"].items())}
        parameters = {p: {"type": v["type"], "aliases": v.get("aliases", []), "parameter_sets": v.get("parameter_sets", [])}
                      for p, v in sorted(spec["parameters"].items())}
        cmdlets[name] = {"parameter_sets": sets, "parameters": parameters}
    return {"source": source["source"], "reduced": "tests/conformance/vendor.py", "cmdlets": cmdlets}


def main(argv: list[str]) -> int:
    """Read the shared reference and write the reduced copies."""
    source_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    graph = json.loads((source_dir / "graph-v1-subset.json").read_text(encoding="utf-8"))
    exchange = json.loads((source_dir / "exchange-cmdlets.json").read_text(encoding="utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in (("graph-v1.json", reduce_graph(graph)), ("exchange-cmdlets.json", reduce_exchange(exchange))):
        (OUT / name).write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
