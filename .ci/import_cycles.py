"""Report import cycles between our own modules: ast over every module, imports inside functions too.

Counts `import` and `from … import` (relative ones resolved), `import_module(...)` (as
`importlib.import_module` or a bare name, with its `package=` argument) and `__import__(...)`
with a literal name, and the parent packages every import runs (`a.b.c` runs `a` and `a.b`).
A dynamic import whose name is not a literal is listed as unchecked (allowed only in cli/, which
discovers its commands). Exit 1 on any strongly connected component of two or more modules, or on
an unchecked dynamic import outside cli/. Usage: python .ci/import_cycles.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "marketing_team"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(name: str, known: set[str]) -> str | None:
    """The longest known module that `name` (a module or module.attribute) refers to."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _relative(name: str, package: str, level: int) -> str:
    anchor = package.split(".")[: len(package.split(".")) - level + 1]
    return ".".join(anchor + ([name] if name else []))


def _dynamic(node: ast.Call, package: str) -> str | None:
    """The module a literal `import_module(...)` / `__import__(...)` names; "" when not literal."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in ("import_module", "__import__"):
        return None
    if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
        return ""
    target: str = node.args[0].value
    if name == "import_module" and target.startswith("."):
        given = [k.value for k in node.keywords if k.arg == "package"] + node.args[1:2]
        if not given or not isinstance(given[0], ast.Constant) or not isinstance(given[0].value, str):
            return ""
        level = len(target) - len(target.lstrip("."))
        target = _relative(target.lstrip("."), str(given[0].value), level)
    return target


def imports_of(path: Path, current: str, known: set[str], unchecked: list[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = current if path.name == "__init__.py" else current.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _relative(node.module or "", package, node.level) if node.level else node.module or ""
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif isinstance(node, ast.Call):
            target = _dynamic(node, package)
            if target == "":
                unchecked.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            elif target is not None:
                targets = [target]
        for target in targets:
            hit = resolve(target, known)
            # The module and every parent package the import runs, but the root package: every
            # module is inside it, and its face only reaches the composition root lazily (the
            # `app` attribute for `celery -A marketing_team`), never while a module imports.
            while hit is not None and hit != PACKAGE:
                if hit != current:
                    found.add(hit)
                hit = resolve(hit.rpartition(".")[0], known) if "." in hit else None
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main() -> int:
    paths = sorted((ROOT / PACKAGE).rglob("*.py"))
    names = {module_name(p): p for p in paths}
    known = set(names)
    unchecked: list[str] = []
    graph = {name: imports_of(path, name, known, unchecked) for name, path in names.items()}
    # A module's own package __init__ runs before it, but that is not an edge a cycle can close
    # through unless the __init__ imports back; its imports are in the graph like any module's.
    found = cycles(graph)
    outside_cli = [where for where in unchecked if not where.startswith(f"{PACKAGE}/cli/")]
    edges = sum(len(v) for v in graph.values())
    print(f"{len(names)} modules, {edges} import edges (function-level imports included)")
    for component in found:
        print("cycle:", " <-> ".join(component))
    for where in unchecked:
        print(f"dynamic import with a computed name (not checked): {where}")
    print("no import cycle" if not found else f"{len(found)} cycle(s)")
    if outside_cli:
        print(f"{len(outside_cli)} dynamic import(s) outside cli/ cannot be checked: name them literally")
    return 1 if found or outside_cli else 0


if __name__ == "__main__":
    sys.exit(main())
