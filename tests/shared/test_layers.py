"""``shared/`` is layered (see ``shared/__init__.py``): no module imports a layer above its own."""

from __future__ import annotations

import ast

import pytest

from shared import LAYERS
from shared.core.paths import REPO_ROOT

SHARED = REPO_ROOT / "shared"


def imported_layers(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for name in names:
            parts = name.split(".")
            if parts[0] == "shared" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def test_every_package_of_shared_is_a_layer_with_a_docstring() -> None:
    packages = sorted(p.name for p in SHARED.iterdir() if (p / "__init__.py").is_file())
    assert sorted(LAYERS) == packages
    loose = sorted(p.name for p in SHARED.glob("*.py") if p.name != "__init__.py")
    assert not loose, f"modules outside a layer: {loose}"
    for name in LAYERS:
        assert ast.get_docstring(ast.parse((SHARED / name / "__init__.py").read_text())), name


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_one_above_it(layer: str) -> None:
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    for path in sorted((SHARED / layer).rglob("*.py")):
        wrong = imported_layers(path) & above
        assert not wrong, f"{path.relative_to(REPO_ROOT)} imports shared.{sorted(wrong)[0]}, a layer above {layer}"
