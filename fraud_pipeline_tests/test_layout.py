"""The layout is the architecture: one package per part of the bank, each importing only the packages beneath it,
Dagster in `defs` alone, and no import circles — read from the source (every import, also inside functions)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fraud_pipeline"
# Beneath to above. A package may import its own modules and those of packages before it; the modules at the top
# (api, bench, definitions, docs_pictures, feed, solvency) may import any.
LAYERS = ("core", "scenario", "io", "world", "money", "life", "fraud", "aml", "quality", "engine", "detection", "defs")
DAGSTER_LAYER = "defs"
LARGEST_MODULE_LINES = 750  # split by concern before a module grows past this
LARGEST_PACKAGE_SHARE = 0.35  # no part of the bank holds more than about a third of the code


def sources(root: Path = PACKAGE) -> dict[str, str]:
    """{dotted module name: source} of every module under `root`."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path.read_text()
    return modules


def imports(modules: dict[str, str]) -> dict[str, set[str]]:
    """{module: modules it imports}, external ones by their top-level name (`dagster`), project ones resolved to the
    module (`from fraud_pipeline.world import checks` is `fraud_pipeline.world.checks`)."""
    graph = {}
    for name, source in modules.items():
        found = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                found |= {alias.name if alias.name in modules else alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module not in modules:
                    found.add(node.module.split(".")[0])
                    continue
                for alias in node.names:
                    found.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module)
        graph[name] = found - {name}
    return graph


def layer(module: str) -> int | None:
    """The module's place in LAYERS; None for the top-level modules."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None


def violations(modules: dict[str, str]) -> list[str]:
    """Every broken rule, as a sentence naming the modules."""
    graph = imports(modules)
    broken = []
    for module, imported in sorted(graph.items()):
        own = layer(module)
        if "dagster" in imported and (own is None or LAYERS[own] != DAGSTER_LAYER) \
                and module != "fraud_pipeline.definitions":
            broken.append(f"{module} imports dagster outside {DAGSTER_LAYER}/")
        for other in sorted(i for i in imported if i in modules):
            theirs = layer(other)
            if own is not None and (theirs is None or theirs > own):
                where = "a top-level module" if theirs is None else f"{LAYERS[theirs]}/, above {LAYERS[own]}/"
                broken.append(f"{module} imports {other} ({where})")
    broken += [f"import circle: {' → '.join(circle)}" for circle in circles(graph)]
    return broken


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each strongly connected group of modules (Tarjan), as the modules in order."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group) + [sorted(group)[0]])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_project_keeps_its_layers_and_has_no_circles():
    assert violations(sources()) == []


def test_every_package_of_the_bank_is_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(LAYERS)


@pytest.mark.parametrize("module, source, expected", [
    ("fraud_pipeline.world.accounts", "import dagster as dg\n", "fraud_pipeline.world.accounts imports dagster outside defs/"),
    ("fraud_pipeline.world.accounts", "from fraud_pipeline.fraud import scenarios\n",
     "fraud_pipeline.world.accounts imports fraud_pipeline.fraud.scenarios (fraud/, above world/)"),
    ("fraud_pipeline.core.rows", "def later():\n    from fraud_pipeline.api import generate\n",
     "fraud_pipeline.core.rows imports fraud_pipeline.api (a top-level module)"),
    ("fraud_pipeline.money.ledger", "from fraud_pipeline.money.budget import CASH_SIGMA\n",
     "import circle: fraud_pipeline.money.budget → fraud_pipeline.money.ledger → fraud_pipeline.money.budget"),
])
def test_a_forbidden_import_is_named(module, source, expected):
    """Each rule fails when broken: the real project with one import added."""
    modules = sources()
    if module == "fraud_pipeline.money.ledger":  # a circle needs both directions: budget → ledger, then ledger → budget
        modules["fraud_pipeline.money.budget"] += "\nfrom fraud_pipeline.money.ledger import post\n"
    modules[module] += "\n" + source
    assert expected in violations(modules)


def test_modules_and_packages_stay_small_enough_to_read():
    lines = {name: source.count("\n") for name, source in sources().items()}
    assert {name: n for name, n in lines.items() if n > LARGEST_MODULE_LINES} == {}
    total = sum(lines.values())
    share = {package: sum(n for name, n in lines.items() if layer(name) == LAYERS.index(package)) / total
             for package in LAYERS}
    assert {package: round(s, 2) for package, s in share.items() if s > LARGEST_PACKAGE_SHARE} == {}


def test_a_worker_imports_the_engine_without_the_api_or_its_pictures():
    """A block range's worker imports the engine only: the package does not pull in the Python API (and matplotlib
    with its reports) until a user asks for `fraud_pipeline.generate`, which still works."""
    import subprocess
    import sys

    probe = ("import sys, fraud_pipeline.engine.ranges, fraud_pipeline.engine.tasks; "
             "print(sorted(m for m in ('fraud_pipeline.api', 'matplotlib', 'dagster') if m in sys.modules)); "
             "import fraud_pipeline; print(fraud_pipeline.generate.__module__, 'fraud_pipeline.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["[]", "fraud_pipeline.api True"]


def test_a_process_that_imports_the_package_allocates_with_the_system_allocator_unless_told_otherwise():
    """pyarrow's default pool (mimalloc) faults freed pages back in, a third of a large bank day's CPU
    (`core.allocator`): a worker that imports the engine allocates from the system allocator; a user who names a
    pool in `ARROW_DEFAULT_MEMORY_POOL` keeps it."""
    import os
    import subprocess
    import sys

    probe = "import fraud_pipeline.engine.ranges, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    environment = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    backends = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                               env=environment | extra).stdout.strip()
                for extra in ({}, {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"})]
    assert backends == ["system", "jemalloc"]
