"""The layout shows the pipeline, and the imports keep to it.

    core                          imports only core
    transcribe, tag, render, publish   (the stages) import only core
    workspace, stages, run, files, scaffold, voices   (the orchestration) import core and the stages
    cli, serve, review            (the front ends) import the orchestration and core

An import inside a function counts: a lazy import is still a dependency. Imports under
`if TYPE_CHECKING:` (type hints only) do not.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "pipeline"

STAGES = ("transcribe", "tag", "render", "publish")
ORCHESTRATION = ("run", "stages", "files", "workspace", "scaffold", "voices")
FRONT_ENDS = ("cli", "serve", "review", "__main__")
ALLOWED = {
    "core": {"core"},
    **{stage: {"core", stage} for stage in STAGES},
    **{name: {"core", *STAGES, *ORCHESTRATION} for name in ORCHESTRATION},
    **{name: {"core", *ORCHESTRATION, *FRONT_ENDS} for name in FRONT_ENDS},
    "root": set(),  # the package's __init__: the version, and public names imported on first use
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(["synthese", *parts])


def _runtime_nodes(node: ast.AST):
    """Every node of a module but those under `if TYPE_CHECKING:`."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not (isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING"):
            yield from _runtime_nodes(child)


def _package_of(module: str, is_package: bool) -> list[str]:
    parts = module.split(".")
    if parts[-1] == "__init__":
        return parts[:-1]
    return parts if is_package else parts[:-1]


def imports() -> dict[str, set[str]]:
    """For each module of the package, the package modules it imports (absolute, dotted)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        package = _package_of(module, False)
        found: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                if not target.startswith("synthese"):
                    continue
                # `from . import x` may name a module: count the module when there is one.
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    found.add(candidate if _exists(candidate) else target)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("synthese"))
        graph[module.removesuffix(".__init__")] = {m.removesuffix(".__init__") for m in found} - {module}
    return graph


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def layer(module: str) -> str:
    """The layer of a module: its sub-package, or its own name at the top ('synthese' is the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "root"


def test_each_layer_imports_only_what_lies_below_it():
    wrong = []
    for module, targets in imports().items():
        allowed = ALLOWED.get(layer(module))
        assert allowed is not None, f"{module}: a module outside the layers; add it to a sub-package"
        for target in targets:
            # The root package only holds the version and the lazy public names.
            if layer(target) not in allowed and target != "synthese":
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_import_graph_has_no_circle():
    graph = imports()
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import circle: " + " -> ".join([*trail, module, target]))
            if target not in state:
                visit(target, [*trail, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_imports_inside_the_package_are_relative():
    absolute = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("synthese"):
                absolute.append(f"{path.relative_to(REPO)}:{node.lineno}")
            if isinstance(node, ast.Import) and any(a.name.startswith("synthese") for a in node.names):
                absolute.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not absolute, absolute


def layer_graph() -> dict[str, set[str]]:
    """Which layers import which: the sub-packages, the orchestration and the front ends."""
    graph: dict[str, set[str]] = {}
    for module, targets in imports().items():
        graph.setdefault(layer(module), set()).update(layer(t) for t in targets if layer(t) != layer(module))
    return graph


@pytest.mark.slow
@pytest.mark.parametrize("command", [["ruff", "check", "."], ["mypy"]], ids=["ruff", "mypy"])
def test_the_tree_passes_the_linter_and_the_type_checker(command):
    # Both read their settings from pyproject.toml.
    result = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


if __name__ == "__main__":  # `python tests/test_architecture.py` prints the graph between layers
    for name, targets in sorted(layer_graph().items()):
        print(f"{name:12s} -> {', '.join(sorted(t for t in targets if t != 'root')) or '(nothing)'}")

