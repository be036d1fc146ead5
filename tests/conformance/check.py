"""Conformance of the requests in the emulator's journal to Microsoft's published descriptions.

The descriptions are the vendored extracts in ``reference/`` (see README.md): Graph v1.0 path templates, query options
and types from the CSDL, and the Exchange Online cmdlets' parameters and parameter sets from Microsoft's cmdlet
reference. The journal carries no values, only names and JSON types (``shape``), and that is all the check needs.

Pure functions: :func:`check_entry` takes one journal entry and answers a list of violations in words (empty when the
request conforms). :class:`Checker` adds a cache (each distinct request form is checked once) and the allow-list.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import parse_qsl, unquote

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
GRAPH_PREFIX = "/v1.0"
NS = "microsoft.graph."

# Server-issued paging tokens: Graph puts them in the nextLink it answers; the CSDL's capability annotations (and so
# the reference's per-path option lists) do not describe them.
PAGING_OPTIONS = {"$skiptoken", "$deltatoken"}
CHECKED_OPTIONS = ("$select", "$filter", "$expand", "$orderby")

# JSON type names a shape uses, per Edm primitive type. OData JSON writes Int64 and Decimal as numbers, or as strings
# with IEEE754Compatible=true; Double may be "INF"/"NaN". Binary is base64 text; Stream has no JSON form in a body.
EDM_JSON = {
    "Edm.String": {"string"}, "Edm.Guid": {"string"}, "Edm.DateTimeOffset": {"string"}, "Edm.Date": {"string"},
    "Edm.TimeOfDay": {"string"}, "Edm.Duration": {"string"}, "Edm.Binary": {"string"},
    "Edm.Boolean": {"boolean"},
    "Edm.Int32": {"number"}, "Edm.Int16": {"number"}, "Edm.Byte": {"number"}, "Edm.SByte": {"number"},
    "Edm.Int64": {"number", "string"}, "Edm.Decimal": {"number", "string"}, "Edm.Double": {"number", "string"},
    "Edm.Single": {"number", "string"},
}

# Directory objects are open types for directory extensions only: extension_<appId without dashes>_<name>.
EXTENSION_PROPERTY = re.compile(r"^extension_[0-9a-fA-F]{32}_\w+$")

# $filter words: operators, literals and the functions Graph's directory and mail services document.
FILTER_KEYWORDS = {"eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "in", "has", "add", "sub", "mul", "div", "mod",
                   "true", "false", "null", "asc", "desc", "inf", "nan"}
FILTER_FUNCTIONS = {"startswith", "endswith", "contains", "tolower", "toupper", "length", "indexof", "substring", "trim",
                    "concat", "year", "month", "day", "hour", "minute", "second", "date", "time", "now", "cast", "isof"}
LAMBDAS = {"any", "all"}
_FILTER_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)
  | (?P<literal>-?[0-9][0-9A-Za-z:.+\-]*)
  | (?P<name>[A-Za-z_$@][A-Za-z0-9_./@$]*)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
  | (?P<colon>:)
  | (?P<other>.)
""", re.VERBOSE)

# PowerShell's common parameters: every cmdlet takes them. WhatIf and Confirm (aliases wi, cf) are not among them:
# only cmdlets that declare SupportsShouldProcess have them, and the reference lists them for exactly those cmdlets,
# so they are checked like any other parameter (Remove-BlockedSenderAddress, for one, has neither).
COMMON_PARAMETERS = {name.lower(): name for name in (
    "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable",
    "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable")}
COMMON_ALIASES = {"vb": "Verbose", "db": "Debug", "ea": "ErrorAction", "wa": "WarningAction", "infa": "InformationAction",
                  "proga": "ProgressAction", "ev": "ErrorVariable", "wv": "WarningVariable", "iv": "InformationVariable",
                  "ov": "OutVariable", "ob": "OutBuffer", "pv": "PipelineVariable"}


# -- the reference --------------------------------------------------------------------------------------------------


class Reference:
    """The vendored reference, indexed for the check."""

    def __init__(self, graph: dict[str, Any], exchange: dict[str, Any]) -> None:
        self.paths: dict[str, Any] = graph["paths"]
        self.types: dict[str, Any] = graph["types"]
        self.aliases: dict[str, str] = graph.get("aliases") or {}
        self._trie = _Node()
        for template in self.paths:
            node = self._trie
            for segment in template.strip("/").split("/"):
                node = node.child(segment)
            node.template = template
        self.derived: dict[str, set[str]] = {}
        for name, spec in self.types.items():
            if spec.get("base"):
                self.derived.setdefault(spec["base"], set()).add(name)
        self.cmdlets: dict[str, tuple[str, dict[str, Any]]] = {n.lower(): (n, s) for n, s in exchange["cmdlets"].items()}
        self.parameter_names: dict[str, dict[str, str]] = {}
        for name, spec in exchange["cmdlets"].items():
            names: dict[str, str] = {}
            for parameter, pspec in spec["parameters"].items():
                names[parameter.lower()] = parameter
                for alias in pspec.get("aliases") or []:
                    names[alias.lower()] = parameter
            self.parameter_names[name] = names

    @classmethod
    def load(cls, directory: Path = REFERENCE_DIR) -> "Reference":
        """Read ``graph-v1.json`` and ``exchange-cmdlets.json`` from ``directory``."""
        graph = json.loads((directory / "graph-v1.json").read_text(encoding="utf-8"))
        exchange = json.loads((directory / "exchange-cmdlets.json").read_text(encoding="utf-8"))
        return cls(graph, exchange)

    # -- paths --

    def match(self, path: str) -> str | None:
        """The template a Graph path (after ``/v1.0``, no query) matches, or None."""
        path = "/" + path.strip("/")
        for alias, target in self.aliases.items():
            if path == alias or path.startswith(alias + "/"):
                path = target + path[len(alias):]
                break
        segments = [unquote(s) if "%" in s else s for s in path.strip("/").split("/")] if path.strip("/") else []
        found = self._trie.match(segments)
        if found is None and segments and segments[-1].lower().startswith(NS):
            # A bound operation may be called by its namespace-qualified name (POST .../microsoft.graph.revokeSignInSessions).
            found = self._trie.match(segments[:-1] + [segments[-1][len(NS):]])
            if found is not None and self.paths[found]["kind"] != "operation":
                found = None
        return found

    # -- types --

    def chain(self, type_name: str) -> list[dict[str, Any]]:
        """The type's spec and its base types' specs, most derived first (unknown types give [])."""
        out = []
        while type_name in self.types:
            spec = self.types[type_name]
            out.append(spec)
            type_name = spec.get("base", "")
        return out

    def all_derived(self, type_name: str) -> list[str]:
        """Every type derived from ``type_name``, transitively."""
        out: list[str] = []
        todo = sorted(self.derived.get(type_name, ()))
        while todo:
            name = todo.pop(0)
            if name not in out:
                out.append(name)
                todo.extend(sorted(self.derived.get(name, ())))
        return out

    def member(self, type_name: str, name: str) -> tuple[str, dict[str, Any]] | None:
        """``("property" | "navigation", spec)`` for a member of the type or its bases; None when it has none."""
        for spec in self.chain(type_name):
            if name in (spec.get("properties") or {}):
                return "property", spec["properties"][name]
            if name in (spec.get("navigation") or {}):
                return "navigation", spec["navigation"][name]
        return None

    def is_open(self, type_name: str) -> bool:
        """Whether the type (or a base) is open."""
        return any(spec.get("open") for spec in self.chain(type_name))

    def is_a(self, type_name: str, base: str) -> bool:
        """Whether ``type_name`` is ``base`` or derives from it."""
        while type_name:
            if type_name == base:
                return True
            type_name = self.types.get(type_name, {}).get("base", "")
        return False


class _Node:
    """A path-template trie: literal segments (case-insensitive), patterned segments, and one wildcard."""

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.patterns: list[tuple[re.Pattern[str], _Node]] = []
        self.wild: _Node | None = None
        self.template: str | None = None

    def child(self, segment: str) -> "_Node":
        """The node for one template segment (made when missing)."""
        if re.fullmatch(r"\{[^{}]+\}", segment):
            self.wild = self.wild or _Node()
            return self.wild
        if "{" in segment:
            # Literal parts escaped, each placeholder any text within the segment.
            regex = "[^/]+?".join(re.escape(part) for part in re.split(r"\{[^{}]+\}", segment))
            for pattern, node in self.patterns:
                if pattern.pattern == regex:
                    return node
            node = _Node()
            self.patterns.append((re.compile(regex, re.IGNORECASE), node))
            return node
        return self.literal.setdefault(segment.lower(), _Node())

    def match(self, segments: list[str]) -> str | None:
        """The template of the best match (literal before pattern before wildcard), or None."""
        if not segments:
            return self.template
        head, rest = segments[0], segments[1:]
        # A function without parameters may be called without its parentheses (mailFolders/delta): before an id.
        for literal in (head.lower(), head.lower() + "()"):
            node = self.literal.get(literal)
            if node is not None:
                found = node.match(rest)
                if found is not None:
                    return found
        for pattern, node in self.patterns:
            if pattern.fullmatch(head):
                found = node.match(rest)
                if found is not None:
                    return found
        if self.wild is not None and head:
            return self.wild.match(rest)
        return None


# -- Graph -----------------------------------------------------------------------------------------------------------


def split_target(target: str) -> tuple[str, str]:
    """``(path, query string)`` of a request target; the path loses a leading ``/v1.0``."""
    path, _sep, query = target.partition("?")
    if path == GRAPH_PREFIX or path.startswith(GRAPH_PREFIX + "/"):
        path = path[len(GRAPH_PREFIX):] or "/"
    return "/" + path.lstrip("/"), query


def query_options(query: str) -> dict[str, str]:
    """The system query options (``$``-prefixed, names lower-case; the last value wins); custom parameters are left out."""
    if not query:
        return {}
    if "+" in query or "%24" in query:
        return {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True) if k.startswith("$")}
    out = {}
    for part in query.split("&"):
        key, _sep, value = part.partition("=")
        if key.startswith("$"):
            out[key.lower()] = unquote(value) if "%" in value else value
    return out


def split_top(text: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside parentheses and quotes; items stripped, empty ones dropped."""
    if "(" not in text and "'" not in text:
        return [item.strip() for item in text.split(sep) if item.strip()]
    out, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == sep:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return [item for item in out if item]


def resolve(ref: Reference, type_name: str, path: str) -> tuple[str | None, bool, str | None]:
    """Follow a property path (``a/b``, with type casts) from ``type_name``.

    Answers ``(type, is_collection, problem)``: the type at the end (None when it is outside the reference, which
    stops the check there), whether it is a collection, and a violation in words or None.
    """
    current: str | None = type_name
    collection = False
    for segment in path.split("/"):
        if current is None or current.startswith("Edm."):
            if current is not None:
                return None, False, f"'{path}': '{segment}' follows {current}, which has no properties"
            return None, False, None
        if segment == "$count" and collection:
            return "Edm.Int32", False, None
        if collection:
            return None, False, f"'{path}': a path cannot go on from a collection (use any() or all())"
        if "." in segment and segment in ref.types:
            if not (ref.is_a(segment, current) or ref.is_a(current, segment)):
                return None, False, f"'{path}': {segment} is not derived from {current}"
            current = segment
            continue
        if current not in ref.types:
            return None, False, None
        found = ref.member(current, segment)
        if found is None:
            if ref.is_open(current) and EXTENSION_PROPERTY.match(segment):
                return None, False, None
            hint = _case_hint(ref, current, segment)
            return None, False, f"'{segment}' is not a property of {current}{hint}"
        _kind, spec = found
        current, collection = spec["type"], bool(spec.get("collection"))
    return current, collection, None


def _case_hint(ref: Reference, type_name: str, name: str) -> str:
    for spec in ref.chain(type_name):
        for other in list(spec.get("properties") or {}) + list(spec.get("navigation") or {}):
            if other.lower() == name.lower():
                return f" (it has '{other}': names are case-sensitive)"
    return ""


def filter_tokens(text: str) -> list[tuple[str, str]]:
    """The tokens of a ``$filter`` expression, spaces left out."""
    return [(m.lastgroup or "other", m.group()) for m in _FILTER_TOKEN.finditer(text) if m.lastgroup != "space"]


def check_filter(ref: Reference, type_name: str, text: str, option: str = "$filter") -> list[str]:
    """Every property a ``$filter`` names exists on ``type_name`` (lambda variables resolve to their collection's
    element type); every function is one OData defines; ``any``/``all`` follow a collection."""
    problems: list[str] = []
    tokens = filter_tokens(text)
    frames: list[tuple[int, str | None, str | None]] = []  # (paren depth, lambda variable, element type)
    depth = 0
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        following = tokens[i + 1][0] if i + 1 < len(tokens) else ""
        if kind == "lp":
            depth += 1
        elif kind == "rp":
            if frames and frames[-1][0] == depth:
                frames.pop()
            depth -= 1
        elif kind == "other":
            problems.append(f"{option}: unexpected character {value!r}")
        elif kind == "name" and following == "lp":
            head, _sep, last = value.rpartition("/")
            if head and last.lower() in LAMBDAS:
                element, collection, problem = _resolve_in_scope(ref, type_name, head, frames)
                if problem:
                    problems.append(f"{option}: {problem}")
                elif element is not None and not collection:
                    problems.append(f"{option}: '{head}' is not a collection, so it has no {last}()")
                variable = None
                if i + 3 < len(tokens) and tokens[i + 2][0] == "name" and tokens[i + 3][0] == "colon":
                    variable = tokens[i + 2][1]
                depth += 1
                frames.append((depth, variable, element))
                i += 4 if variable else 2
                continue
            if value.lower() not in FILTER_FUNCTIONS:
                problems.append(f"{option}: '{value}' is not an OData function")
        elif kind == "name" and value.lower() not in FILTER_KEYWORDS:
            _type, _collection, problem = _resolve_in_scope(ref, type_name, value, frames)
            if problem:
                problems.append(f"{option}: {problem}")
        i += 1
    if depth != 0:
        problems.append(f"{option}: unbalanced parentheses")
    return problems


def _resolve_in_scope(ref: Reference, type_name: str, path: str,
                      frames: list[tuple[int, str | None, str | None]]) -> tuple[str | None, bool, str | None]:
    first, _sep, rest = path.partition("/")
    for _depth, variable, element in reversed(frames):
        if variable is not None and first == variable:
            if not rest or element is None:
                return element, False, None
            return resolve(ref, element, rest)
    return resolve(ref, type_name, path)


# Collections whose members are of derived types by nature: Graph takes a derived type's property in $select there
# without the cast (GET /users/{id}/memberOf?$select=displayName gives groups' and roles' names).
POLYMORPHIC = {"microsoft.graph.directoryObject"}


def check_select(ref: Reference, type_name: str, text: str, option: str = "$select") -> list[str]:
    """Every ``$select`` item is a member of the type (or ``*``); on a polymorphic type, of one of its derived types."""
    problems = []
    polymorphic = type_name in POLYMORPHIC or bool(ref.types.get(type_name, {}).get("abstract"))
    for item in split_top(text):
        if item == "*":
            continue
        _type, _collection, problem = resolve(ref, type_name, item)
        if problem and polymorphic and any(resolve(ref, t, item)[2] is None for t in ref.all_derived(type_name)):
            problem = None
        if problem:
            problems.append(f"{option}: {problem}")
    return problems


def check_orderby(ref: Reference, type_name: str, text: str) -> list[str]:
    """Every ``$orderby`` key is a property path of the type, with an optional ``asc``/``desc``."""
    problems = []
    for item in split_top(text):
        words = item.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            problems.append(f"$orderby: '{item}' is not 'property [asc|desc]'")
            continue
        _type, _collection, problem = resolve(ref, type_name, words[0])
        if problem:
            problems.append(f"$orderby: {problem}")
    return problems


def check_expand(ref: Reference, type_name: str, text: str, not_expandable: Iterable[str] = ()) -> list[str]:
    """Every ``$expand`` item is a navigation property of the type that may be expanded; nested ``$select`` and
    ``$filter`` are checked against the navigation property's type."""
    problems = []
    blocked = set(not_expandable)
    for item in split_top(text):
        name, _sep, nested = item.partition("(")
        name = name.strip()
        if name == "*":
            continue
        if name.endswith("/$ref"):
            name = name[: -len("/$ref")]
        found = None
        target = type_name
        for segment in name.split("/"):
            if "." in segment and segment in ref.types:
                target = segment
                continue
            found = ref.member(target, segment)
            if found is None or found[0] != "navigation":
                break
            target = found[1]["type"]
        if found is None or found[0] != "navigation":
            problems.append(f"$expand: '{name}' is not a navigation property of {type_name}")
            continue
        if name in blocked:
            problems.append(f"$expand: '{name}' may not be expanded on {type_name}")
        for option in split_top(nested.rstrip(")"), ";") if nested else []:
            key, _eq, value = option.partition("=")
            if key.strip().lower() == "$select":
                problems += check_select(ref, target, value, f"$expand={name}($select)")
            elif key.strip().lower() == "$filter":
                problems += check_filter(ref, target, value, f"$expand={name}($filter)")
    return problems


def check_query(ref: Reference, template: str, method: str, options: dict[str, str]) -> list[str]:
    """The query options are allowed on this template and method, and name members of its type."""
    spec = ref.paths[template]
    allowed = {o.lower() for o in (spec["methods"].get(method) or {}).get("query") or []}
    type_name = spec.get("type") or ""
    problems = []
    for option, value in options.items():
        if option in PAGING_OPTIONS:
            continue
        if option not in allowed:
            problems.append(f"query option {option} is not supported on {method} {template}")
            continue
        if option == "$select":
            problems += check_select(ref, type_name, value)
        elif option == "$filter":
            problems += check_filter(ref, type_name, value)
        elif option == "$orderby":
            problems += check_orderby(ref, type_name, value)
        elif option == "$expand":
            problems += check_expand(ref, type_name, value, (spec["methods"].get(method) or {}).get("nonExpandable") or ())
    return problems


def json_types(ref: Reference, type_name: str) -> set[str] | None:
    """The JSON types a value of ``type_name`` may take (not counting null); None when anything goes."""
    if type_name in EDM_JSON:
        return EDM_JSON[type_name]
    spec = ref.types.get(type_name)
    if spec is None:
        return None
    if spec["kind"] == "enum":
        return {"string"}
    return {"object"}


def shape_type(shape: Any) -> str:
    """The JSON type name of one shape."""
    if isinstance(shape, dict):
        return "object"
    if isinstance(shape, list):
        return "array"
    return str(shape)


def check_value(ref: Reference, where: str, shape: Any, spec: dict[str, Any], writing: str = "") -> list[str]:
    """A body value's shape against a property or parameter spec (``type``, ``collection``, ``nullable``)."""
    type_name = spec["type"]
    nullable = spec.get("nullable", True)
    got = shape_type(shape)
    if got == "null":
        return [] if nullable else [f"{where} is null, and {type_name} there is not nullable"]
    if spec.get("collection"):
        if got != "array":
            return [f"{where} is a JSON {got}, expected an array of {type_name}"]
        problems = []
        for element in shape:
            problems += check_value(ref, f"{where}[]", element, {"type": type_name, "nullable": True}, writing)
        return problems
    wanted = json_types(ref, type_name)
    if wanted is None:
        return []
    if got not in wanted:
        return [f"{where} is a JSON {got}, expected {' or '.join(sorted(wanted))} for {type_name}"]
    if got == "object":
        return check_object(ref, where, shape, type_name, writing)
    return []


def check_object(ref: Reference, where: str, shape: dict[str, Any], type_name: str, writing: str = "") -> list[str]:
    """Every key of an object's shape is a member of ``type_name`` (or of a derived type when the object names its
    ``@odata.type``), each with a compatible JSON type; ``@`` annotations are allowed."""
    if type_name not in ref.types:
        return []
    problems = []
    candidates = [type_name] + (ref.all_derived(type_name) if "@odata.type" in shape else [])
    for key, value in shape.items():
        if "@" in key:
            name = key.partition("@")[0]
            if name and not any(ref.member(t, name) for t in candidates):
                problems.append(f"{where}: annotation '{key}' is for '{name}', which is not a property of {type_name}")
            continue
        found = None
        for candidate in candidates:
            found = ref.member(candidate, key)
            if found is not None:
                break
        if found is None:
            if ref.is_open(type_name) and EXTENSION_PROPERTY.match(key):
                continue
            problems.append(f"{where}: '{key}' is not a property of {type_name}{_case_hint(ref, type_name, key)}")
            continue
        _kind, spec = found
        if writing and spec.get("computed"):
            problems.append(f"{where}: '{key}' of {type_name} is computed (read-only)")
        if writing == "PATCH" and spec.get("immutable"):
            problems.append(f"{where}: '{key}' of {type_name} is immutable (set only at creation)")
        problems += check_value(ref, f"{where}.{key}" if where != "body" else key, value, spec, writing)
    return problems


def check_body(ref: Reference, template: str, method: str, shape: Any) -> list[str]:
    """The body's shape against the request body the template and method take."""
    spec = ref.paths[template]
    kind = spec["kind"]
    if shape is None or (shape == {} and method in ("GET", "DELETE", "POST")):
        return []
    if method in ("GET", "DELETE"):
        return [f"{method} {template} takes no body"]
    got = shape_type(shape)
    if kind == "operation":
        overloads = (spec.get("operation") or {}).get("overloads") or [{"parameters": {}}]
        if got != "object":
            return [f"the body is a JSON {got}, expected an object of {spec['operation']['name']}'s parameters"]
        best: list[str] | None = None
        for overload in overloads:
            problems = []
            for key, value in shape.items():
                if "@" in key:
                    continue
                parameter = overload["parameters"].get(key)
                if parameter is None:
                    problems.append(f"body: '{key}' is not a parameter of {spec['operation']['name']}")
                else:
                    problems += check_value(ref, key, value, parameter)
            if best is None or len(problems) < len(best):
                best = problems
        return best or []
    if kind == "ref":
        extra = [k for k in shape if "@" not in k] if got == "object" else []
        if got != "object" or extra:
            return [f"a $ref body holds only '@odata.id' (got {got if got != 'object' else ', '.join(extra)})"]
        return []
    if kind in ("item", "single", "collection"):
        type_name = spec.get("type") or ""
        if got != "object":
            return [f"the body is a JSON {got}, expected an object of {type_name}"]
        return check_object(ref, "body", shape, type_name, method)
    return []


def check_graph(ref: Reference, method: str, target: str, shape: Any) -> list[str]:
    """One Graph request: ``target`` is the path (with or without ``/v1.0``) and query; ``shape`` its body's shape."""
    path, query = split_target(target)
    method = method.upper()
    template = ref.match(path)
    if template is None:
        return [f"{method} {path}: no path template in the reference matches (unknown path, or outside the vendored areas)"]
    spec = ref.paths[template]
    if spec["kind"] == "batch":
        return [] if method == "POST" else [f"{method} {template}: $batch takes POST only"]
    if method not in spec["methods"]:
        return [f"{method} is not allowed on {template} (allowed: {', '.join(sorted(spec['methods']))})"]
    return check_query(ref, template, method, query_options(query)) + check_body(ref, template, method, shape)


def batch_url_problem(url: str) -> str | None:
    """What is wrong with a ``$batch`` item's url as such (absolute, or repeating the version), or None."""
    if "://" not in url and "v1.0" not in url[:6].lower():
        return None
    if re.match(r"^[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
        return f"the url {url.split('?')[0]} is absolute; $batch urls are relative to the version root"
    if url.lower().startswith(GRAPH_PREFIX + "/") or url.lower().startswith(GRAPH_PREFIX[1:] + "/"):
        return f"the url {url.split('?')[0]} repeats the version; $batch urls are relative to the version root"
    return None


def check_batch_item(ref: Reference, item: dict[str, Any]) -> list[str]:
    """One ``$batch`` item as journaled: ``method``, ``url`` (relative to the version root) and ``shape``."""
    url = str(item.get("url") or "")
    problem = batch_url_problem(url)
    if problem:
        return [problem]
    return check_graph(ref, str(item.get("method") or "GET"), "/" + url.lstrip("/"), item.get("shape"))


# -- Exchange --------------------------------------------------------------------------------------------------------

# Parameter types by the JSON types they bind from. PowerShell converts when it binds a parameter, so the check takes
# what that conversion accepts and only refuses what it does not (or what would bind to something else than meant):
# * SwitchParameter and Boolean take booleans, and numbers (PowerShell binds 0/1 to them); not strings: binding
#   "False" to a Boolean fails, and to a switch it would mean $true.
# * String takes strings and numbers (a number converts to its text); a boolean or an array would bind as "True" or
#   as the elements joined by spaces, never what was meant.
# * Identity parameters (*IdParameter, SmtpAddress, ProxyAddress, Guid) are built from their text: strings.
# * Unlimited<T>, Int32 and ByteQuantifiedSize take numbers and their text ("Unlimited", "50 MB").
# * DateTime and EnhancedTimeSpan take their text; enums take the member's name (or its number).
# * Collections (MultiValuedProperty, T[], ProxyAddressCollection) take an array, or one element (PowerShell wraps a
#   single value); MultiValuedProperty also takes Exchange's @{Add=...; Remove=...} hashtable, as an object.
# * SecureString and PSCredential cannot travel in JSON as such; no check.
# $null binds to anything but a switch or a Boolean (Exchange's Set- cmdlets take $null to clear a value).
_BOOLEAN = {"boolean", "number"}
_TEXT = {"string", "number"}
_COLLECTION_OBJECT_KEYS = {"add", "remove"}


def parameter_json_types(type_name: str) -> tuple[set[str] | None, bool, bool]:
    """``(JSON types, is a collection, null allowed)`` for an Exchange parameter type; None types: anything goes."""
    name = type_name.strip()
    bare = name.split(".")[-1]
    if bare in ("SwitchParameter", "Boolean"):
        return _BOOLEAN, False, False
    if bare in ("SecureString", "PSCredential"):
        return None, False, True
    if name.endswith("[]") or bare in ("MultiValuedProperty", "ProxyAddressCollection"):
        element = name[:-2] if name.endswith("[]") else "String"
        element_types = parameter_json_types(element)[0] or _TEXT
        return element_types | {"array", "object"}, True, True
    if bare in ("Unlimited", "Int32", "Int64", "ByteQuantifiedSize", "Double"):
        return _TEXT, False, True
    if bare == "String" or bare.endswith("IdParameter") or bare in ("SmtpAddress", "ProxyAddress", "Guid", "DateTime",
                                                                    "EnhancedTimeSpan", "ExTimeZoneValue"):
        return ({"string"} if bare != "String" else _TEXT), False, True
    # Enums and other value types Exchange builds from text.
    return _TEXT, False, True


def check_exchange_value(cmdlet: str, parameter: str, type_name: str, shape: Any) -> list[str]:
    """One parameter's value shape against its type."""
    wanted, collection, null_ok = parameter_json_types(type_name)
    got = shape_type(shape)
    where = f"{cmdlet} -{parameter}"
    if got == "null":
        return [] if null_ok else [f"{where} is null, which does not bind to {type_name}"]
    if wanted is None:
        return []
    if got not in wanted:
        return [f"{where} is a JSON {got}, expected {' or '.join(sorted(wanted))} for {type_name}"]
    if collection and got == "object":
        keys = {k.lower() for k in shape}
        if not keys <= _COLLECTION_OBJECT_KEYS:
            return [f"{where} is an object with {', '.join(sorted(shape))}; a {type_name} takes only Add/Remove"]
    if collection and got == "array":
        element = type_name[:-2] if type_name.endswith("[]") else "String"
        problems = []
        for item in shape:
            problems += check_exchange_value(cmdlet, parameter + "[]", element, item)
        return problems
    return []


def check_exchange(ref: Reference, cmdlet: str | None, parameters: dict[str, Any] | None) -> list[str]:
    """One cmdlet call: the cmdlet exists, each parameter exists with a compatible JSON type, and the parameters given
    fit one parameter set usable in Exchange Online (its mandatory parameters given, no parameter from outside it)."""
    if not cmdlet:
        return ["InvokeCommand without a CmdletName"]
    known = ref.cmdlets.get(cmdlet.lower())
    if known is None:
        return [f"unknown cmdlet {cmdlet}"]
    name, spec = known
    names = ref.parameter_names[name]
    problems = []
    given: set[str] = set()
    for parameter, shape in (parameters or {}).items():
        lower = parameter.lower()
        if lower in COMMON_PARAMETERS or lower in COMMON_ALIASES:
            continue
        canonical = names.get(lower)
        if canonical is None:
            not_exo = any(parameter.lower() in {p.lower() for p in s.get("dropped_non_exo") or []}
                          for s in spec["parameter_sets"].values())
            problems.append(f"{name} has no parameter -{parameter}" + (" in Exchange Online" if not_exo else ""))
            continue
        given.add(canonical)
        problems += check_exchange_value(name, canonical, spec["parameters"][canonical]["type"], shape)
    problems += _check_parameter_sets(name, spec, given)
    problems += [problem for problem in (rule(name, given) for rule in PROJECT_RULES) if problem]
    return problems


def _no_free_text_reason(cmdlet: str, given: set[str]) -> str:
    """The collection's own rule beyond the reference: ``-Reason`` of Remove-BlockedSenderAddress names the entry's
    own Reason value (Microsoft's reference), so the collection never sends it; only -SenderAddress."""
    if cmdlet == "Remove-BlockedSenderAddress" and "Reason" in given:
        return ("Remove-BlockedSenderAddress carries -Reason: the collection sends -SenderAddress only (-Reason names the "
                "entry's own Reason value, never a note)")
    return ""


# Rules of the collection's own, checked with the reference's.
PROJECT_RULES = (_no_free_text_reason,)


def _check_parameter_sets(name: str, spec: dict[str, Any], given: set[str]) -> list[str]:
    sets = {s: v for s, v in spec["parameter_sets"].items() if v.get("exo_usable", True)}
    if not sets:
        return [f"{name} has no parameter set usable in Exchange Online"]
    missing: dict[str, list[str]] = {}
    outside: dict[str, list[str]] = {}
    for set_name, set_spec in sets.items():
        members = set(set_spec.get("parameters") or [])
        members |= {p for p, pspec in spec["parameters"].items()
                    if set_name in (pspec.get("parameter_sets") or []) or "(All)" in (pspec.get("parameter_sets") or [])}
        lacking = [p for p in set_spec.get("mandatory") or [] if p not in given]
        foreign = sorted(p for p in given if p not in members)
        if not lacking and not foreign:
            return []
        missing[set_name], outside[set_name] = lacking, foreign
    if all(missing.values()):
        groups: dict[tuple[str, ...], list[str]] = {}
        for set_name, lacking in sorted(missing.items()):
            groups.setdefault(tuple(lacking), []).append(set_name)
        options = "; or ".join(f"{', '.join('-' + p for p in lacking)} ({_sets_words(names)})"
                               for lacking, names in sorted(groups.items(), key=lambda g: (len(g[0]), g[0])))
        return [f"{name} misses mandatory parameters: {options}"]
    fits = sorted(s for s in sets if not missing[s])
    why = "; ".join([f"{s} has no {', '.join('-' + p for p in outside[s])}" for s in fits]
                    + [f"{s} takes them but needs {', '.join('-' + p for p in missing[s])}" for s in sorted(sets)
                       if not outside[s] and missing[s]])
    return [f"{name}: no parameter set takes all of {', '.join('-' + p for p in sorted(given))} ({why})"]


def _sets_words(names: list[str]) -> str:
    if names == ["(All)"]:
        return "every call"
    if len(names) > 3:
        return f"{len(names)} parameter sets"
    return "parameter set " + ", ".join(names) if len(names) == 1 else "parameter sets " + ", ".join(names)


# -- journal entries -------------------------------------------------------------------------------------------------


def check_entry(ref: Reference, entry: dict[str, Any]) -> list[str]:
    """Violations of one journal entry: a Graph request (a ``$batch`` checked item by item) or an Exchange
    InvokeCommand. Token, discovery and OIDC requests are no resource calls: nothing to check."""
    service = entry.get("service")
    if service == "graph":
        problems = check_graph(ref, str(entry.get("method") or ""), str(entry.get("path") or ""), entry.get("shape"))
        for item in entry.get("batch_items") or []:
            problems += [f"batch item {item.get('id')}: {p}" for p in check_batch_item(ref, item)]
        return problems
    if service == "exchange":
        problems = [] if str(entry.get("method") or "").upper() == "POST" else [f"InvokeCommand takes POST, not {entry.get('method')}"]
        return problems + check_exchange(ref, entry.get("cmdlet"), entry.get("parameters"))
    return []


# -- cache and allow-list --------------------------------------------------------------------------------------------


# Literal values in a $filter (quoted text, GUIDs, numbers and date-times), blanked in the cache key.
_FILTER_LITERALS = re.compile(r"'(?:[^']|'')*'|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
                              r"|(?<![\w$./])-?[0-9][0-9A-Za-z:.+\-]*")


def _blank(match: re.Match[str]) -> str:
    return "'...'" if match.group().startswith("'") else "0"


@functools.lru_cache(maxsize=4096)
def _option_key(option: str, value: str) -> str:
    if option == "$filter":
        return _FILTER_LITERALS.sub(_blank, value)
    if option == "$select":
        return ",".join(sorted(split_top(value)))
    if option in CHECKED_OPTIONS:
        return value
    return ""


def _skeleton(options: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The query options with literal values blanked: what the check reads of them, as a cache key."""
    return tuple((option, _option_key(option, value)) for option, value in sorted(options.items()))


def _shape_key(shape: Any) -> str:
    if shape is None:
        return "null"
    return json.dumps(shape, sort_keys=True, separators=(",", ":"))


@dataclass
class Finding:
    """One violation of one request form, with how often the form occurred and the allow-list entry that covers it."""

    request: str
    violation: str
    seq: int
    count: int = 1
    allowed: str | None = None

    def __str__(self) -> str:
        times = f", {self.count} requests like it" if self.count > 1 else ""
        return f"{self.request} (journal seq {self.seq}{times}): {self.violation}"


@dataclass
class Checker:
    """Checks journal entries, each distinct request form once (the verdicts are cached across calls).

    ``allow`` is a list of allow-list entries (see ``allowlist.py``): a finding that one of them matches is marked
    ``allowed`` instead of being a failure.
    """

    ref: Reference
    allow: list[dict[str, str]] = field(default_factory=list)
    cache: dict[tuple[Any, ...], tuple[str, list[str]]] = field(default_factory=dict)

    def _graph_key(self, method: str, target: str, shape: Any) -> tuple[tuple[Any, ...], str]:
        path, query = split_target(target)
        template = self.ref.match(path) or path
        key = ("graph", method.upper(), template, _skeleton(query_options(query)), _shape_key(shape))
        return key, f"{method.upper()} {template}" + (f"?{'&'.join(o + ('=' + v if v else '') for o, v in key[3])}" if key[3] else "")

    def verdicts(self, entry: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
        """``(form, request in words, violations)`` for an entry (a ``$batch`` gives one per item)."""
        service = entry.get("service")
        out = []
        if service == "graph":
            key, words = self._graph_key(str(entry.get("method") or ""), str(entry.get("path") or ""), entry.get("shape"))
            out.append(self._cached(key, words, lambda: check_graph(self.ref, str(entry.get("method") or ""),
                                                                    str(entry.get("path") or ""), entry.get("shape"))))
            for item in entry.get("batch_items") or []:
                url = "/" + str(item.get("url") or "").lstrip("/")
                key, words = self._graph_key(str(item.get("method") or "GET"), url, item.get("shape"))
                key = ("batch", batch_url_problem(url[1:])) + key
                out.append(self._cached(key, "$batch item " + words, lambda item=item: check_batch_item(self.ref, item)))
        elif service == "exchange":
            cmdlet = str(entry.get("cmdlet") or "")
            key = ("exchange", str(entry.get("method") or "").upper(), cmdlet.lower(), _shape_key(entry.get("parameters")))
            words = f"{cmdlet} {' '.join('-' + p for p in (entry.get('parameters') or {}))}".strip()
            out.append(self._cached(key, words, lambda: check_entry(self.ref, entry)))
        return out

    def _cached(self, key: tuple[Any, ...], words: str, compute: Any) -> tuple[str, str, list[str]]:
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = (words, compute())
        return repr(key), hit[0], hit[1]

    def check(self, entries: Iterable[dict[str, Any]]) -> list[Finding]:
        """Findings for ``entries``: one per distinct request form and violation, in journal order."""
        findings: dict[tuple[str, str], Finding] = {}
        for entry in entries:
            for form, words, problems in self.verdicts(entry):
                for problem in problems:
                    found = findings.get((form, problem))
                    if found is not None:
                        found.count += 1
                        continue
                    findings[(form, problem)] = Finding(words, problem, int(entry.get("seq") or 0),
                                                        allowed=self.allowed(entry, words, problem))
        return list(findings.values())

    def allowed(self, entry: dict[str, Any], words: str, problem: str) -> str | None:
        """The reason of the first allow-list entry matching this finding, or None."""
        for rule in self.allow:
            if rule.get("service") and rule["service"] != entry.get("service"):
                continue
            if rule.get("request") and not re.search(rule["request"], words):
                continue
            if re.search(rule["violation"], problem):
                return rule["reason"]
        return None


def report(findings: list[Finding]) -> str:
    """The failing findings in words, one per line."""
    failing = [f for f in findings if f.allowed is None]
    lines = [f"{len(failing)} request form(s) do not conform to Microsoft's published descriptions "
             "(tests/conformance/README.md):"]
    lines += [f"  - {f}" for f in failing]
    return "\n".join(lines)
