"""The structure the collection keeps: resources own their requests, modules only declare.

A module holds no Graph path and no Exchange cmdlet name outside its DOCUMENTATION, EXAMPLES and RETURN: those
belong to the resource files (plugins/module_utils/resources/), so that a change of the service's contract
touches one file.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((ROOT / "plugins" / "modules").glob("*.py"))
MODULE_UTILS = ROOT / "plugins" / "module_utils"
RESOURCES = MODULE_UTILS / "resources"
DOCS = {"DOCUMENTATION", "EXAMPLES", "RETURN"}

# An Exchange cmdlet (Verb-Noun with a PowerShell verb), or a Graph path: a string that starts with a slash and a
# name, holds $batch, or names a Graph segment the collection uses.
CMDLET = re.compile(r"\b(Get|Set|Remove|New|Add|Enable|Disable|Update|Invoke|Search|Start|Stop|Test)-[A-Z][A-Za-z]+")
GRAPH_PATH = re.compile(r"^/[A-Za-z$]|\$batch|\b(users|me|groups|directoryRoles|servicePrincipals)/|messageRules|mailFolders|"
                        r"authentication/|revokeSignInSessions|passwordProfile")


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of a file's code: not the module documentation, not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") in DOCS for t in node.targets):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                skip.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip]


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_no_module_holds_a_graph_path_or_a_cmdlet(path):
    found = [(line, text) for line, text in _code_strings(path) if CMDLET.search(text) or GRAPH_PATH.search(text)]
    assert not found, "%s builds requests itself; move them to a resource file: %s" % (path.name, found)


def test_graph_paths_live_in_the_resources():
    """Outside the resources, the clients speak of paths only as parameters: no user path is built elsewhere."""
    outside = [p for p in MODULE_UTILS.rglob("*.py") if RESOURCES not in p.parents]
    found = {p.name: hits for p in outside
             if (hits := [(line, text) for line, text in _code_strings(p) if re.search(r"/users\b|messageRules|authentication/", text)])}
    assert not found


def test_each_cmdlet_has_one_owner():
    """Every cmdlet a resource runs is named in that resource only."""
    owners: dict[str, set[str]] = {}
    for path in MODULE_UTILS.rglob("*.py"):
        for dummy, text in _code_strings(path):
            for match in CMDLET.finditer(text):
                owners.setdefault(match.group(0), set()).add(str(path.relative_to(MODULE_UTILS)))
    shared = {cmdlet: sorted(files) for cmdlet, files in owners.items() if len(files) > 1}
    assert not shared
    assert all(all(f.startswith("resources/") for f in files) for files in owners.values()), owners
