"""No test module imports another: what tests share lives in `tests.support`."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_modules(tree: ast.Module) -> list[tuple[int, str]]:
    """Every module an `import` or `from ... import` names, with its line (relative: dots)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


def forbidden(module: str) -> bool:
    """A tests module other than `tests.support...`, or any relative import."""
    if module.startswith("."):
        return True
    inside = module == "tests" or module.startswith("tests.")
    return inside and not (module == "tests.support" or module.startswith("tests.support."))


def test_test_modules_and_support_import_only_tests_support() -> None:
    files = [*TESTS.rglob("test_*.py"), *TESTS.rglob("conftest.py"),
             *(TESTS / "support").rglob("*.py")]
    assert len(files) > 20, "the test tree was not found"
    offences = [f"{path.relative_to(TESTS.parent)}:{line} imports {module}"
                for path in sorted(set(files))
                for line, module in imported_modules(ast.parse(path.read_text(), str(path)))
                if forbidden(module)]
    assert offences == [], "\n".join(offences)


def test_the_rule_catches_what_it_should() -> None:
    code = ("import tests.integration.test_api\nfrom tests.conftest import WorkerProcess\n"
            "from . import test_x\nfrom tests.support.api import ADMIN\nimport tests.support\n"
            "from tests import support\nimport httpx\n")
    bad = [m for _, m in imported_modules(ast.parse(code)) if forbidden(m)]
    assert bad == ["tests.integration.test_api", "tests.conftest", ".", "tests"]
