"""No import cycle in backoffice/, between modules or between packages, counting imports inside functions too.

A function-local import hides a cycle from Python but not from this walk (STYLE.md: a cycle means a rule is in the
wrong room). The graph is read with ast, so nothing is imported or executed.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "backoffice"


def _modules():
    """{dotted name: path} of every module of the package (a package's __init__ under the package's name)."""
    found = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(module, is_package, node):
    """The absolute module names an ImportFrom/Import node names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]


def import_graph():
    """{module: {modules it imports}} over backoffice's own modules (`from x import name` counts as importing the
    submodule x.name when it exists, else x)."""
    modules = _modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = _resolve(name, is_package, node)
            if isinstance(node, ast.ImportFrom):
                submodules = [t for t in targets[1:] if t in modules]
                named = submodules or ([targets[0]] if targets[0] in modules else [])
                # `from . import x` names a submodule; `from .models import Client` names the package itself.
                if len(submodules) < len(targets) - 1 and targets[0] in modules:
                    named.append(targets[0])
            else:
                named = [t for t in targets if t in modules]
            graph[name].update(t for t in named if t != name and t.startswith(PACKAGE))
    return graph


def _owner(module):
    """The package a module belongs to at the first level below backoffice (backoffice.services.audit →
    backoffice.services); modules directly in backoffice (extensions, labels, permissions ...) stand alone."""
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph(graph):
    packages = {}
    for module, targets in graph.items():
        source = _owner(module)
        packages.setdefault(source, set()).update(_owner(t) for t in targets if _owner(t) != source)
    return packages


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan), each as a sorted list."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(result)




def test_the_walk_sees_imports_inside_functions_and_relative_ones():
    graph = import_graph()
    assert "backoffice.services.audit" in graph["backoffice.admin.audit"]
    assert "backoffice.extensions" in graph["backoffice.services.audit"]
    assert len(graph) > 40


def test_no_cycle_between_modules():
    found = cycles(import_graph())
    assert found == [], "import cycles between modules:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_cycle_between_packages():
    found = cycles(package_graph(import_graph()))
    assert found == [], "import cycles between packages:\n" + "\n".join(" <-> ".join(c) for c in found)
