"""
The import graph of the project's own code: no cycles, the engine (authserver/) never imports
the owner's package, and nothing depends on the sample API but the URLs that route it.
"""

import ast
from collections import defaultdict
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ENGINE = "authserver"
OWNER = "{{ cookiecutter.project_slug }}"


def module_name(path):
    parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules():
    """{module name: path} of every Python module of the engine, the owner's package and config."""
    return {
        module_name(path): path
        for package in (ENGINE, OWNER, "config")
        for path in (PROJECT_DIR / package).rglob("*.py")
        if "migrations" not in path.parts
    }


MODULES = project_modules()


def imported_names(module, path):
    """Every module or name this module imports, at any depth of its code, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def imports():
    """{module: set of project modules it imports}."""
    graph = defaultdict(set)
    for module, path in MODULES.items():
        for name in imported_names(module, path):
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                graph[module].add(name)
    return graph


GRAPH = imports()


def cycles(graph):
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def package_of(module):
    """The unit a module belongs to: the engine, config, or one app of the owner's package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == OWNER and len(parts) > 2 else parts[0]


def test_the_graph_covers_the_project():
    expected = {f"{ENGINE}.endpoints.token", f"{ENGINE}.validator", f"{OWNER}.adapter", "config.urls"}
    assert expected <= set(MODULES)
    assert f"{ENGINE}.view_policy" in GRAPH[f"{ENGINE}.endpoints.token"]


def test_no_module_imports_itself_through_others():
    assert cycles(GRAPH) == []


def test_no_package_depends_on_another_that_depends_on_it():
    packages = defaultdict(set)
    for module, imported in GRAPH.items():
        packages[package_of(module)] |= {package_of(name) for name in imported} - {package_of(module)}
    assert cycles(packages) == []


def in_engine(module):
    return module == ENGINE or module.startswith(f"{ENGINE}.")


def test_the_engine_never_imports_the_owners_code():
    reaching_out = {
        module: sorted(name for name in imported if not in_engine(name))
        for module, imported in GRAPH.items()
        if in_engine(module) and not all(in_engine(name) for name in imported)
    }
    assert reaching_out == {}


def test_nothing_depends_on_the_sample_api():
    sample = f"{OWNER}.api"
    dependents = sorted(
        module
        for module, imported in GRAPH.items()
        if not module.startswith(sample) and any(name.startswith(sample) for name in imported)
    )
    assert dependents == []
