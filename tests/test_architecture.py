"""The shape holds: dependencies point inward to crm_store, and nothing imports the web app or the flows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("crm_store", "emails", "webform", "flows", "analytics")
# What each package may import of ours (besides itself).
ALLOWED = {
    "crm_store": set(),
    "emails": {"crm_store"},
    "analytics": {"crm_store"},
    "webform": {"crm_store", "analytics"},
    "flows": {"crm_store", "emails", "analytics"},
}


def imported_packages(path: Path) -> set[str]:
    """The top-level packages of ours a module imports (at the top or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found.update(n.split(".")[0] for n in names if n.split(".")[0] in OURS)
    return found


@pytest.mark.parametrize("package", OURS)
def test_a_package_imports_only_what_it_may(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {sorted(bad)}"
        for path in (ROOT / package).rglob("*.py")
        if (bad := imported_packages(path) - ALLOWED[package] - {package})
    }
    assert not wrong, "\n".join(sorted(wrong))
