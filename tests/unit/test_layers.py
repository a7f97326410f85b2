"""The floors hold: SQL lives only in store/, every package says what it is for.

(Which floor may import which is checked by import-linter, `make lint`, from the contracts
in pyproject.toml.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["core", "domain", "store", "streams", "connectors", "controls", "api", "cardpulse",
           "simulators", "dashboards"]
# Statements as they start in this code base's SQL (upper-case keywords, as written in store/).
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT INTO|UPDATE \w+( \w+)? SET|DELETE FROM|"
                 r"CREATE (TEMP |UNIQUE )?(TABLE|INDEX|DATABASE|FUNCTION|VIEW)|ALTER TABLE|"
                 r"DROP (TABLE|INDEX|DATABASE)|COPY \S+.*(FROM STDIN|TO STDOUT)|"
                 r"pg_advisory|ON CONFLICT)\b", re.DOTALL)


def _modules(packages: list[str]) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def _strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module, docstrings excepted (prose may name SQL)."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_the_sql_detector_recognises_this_code_bases_sql() -> None:
    found = [text for path in _modules(["store"]) for _, text in _strings(path)
             if SQL.search(text)]
    assert len(found) > 40, "the detector must find the store's own queries"


@pytest.mark.parametrize("package", [p for p in PRODUCT if p != "store"])
def test_no_sql_outside_the_store(package: str) -> None:
    offenders = [f"{path.relative_to(ROOT)}:{line}" for path in _modules([package])
                 for line, text in _strings(path) if SQL.search(text)]
    assert not offenders, f"SQL belongs in store/: {offenders}"


@pytest.mark.parametrize("init", sorted(p for package in PRODUCT + ["tests"]
                                        for p in (ROOT / package).rglob("__init__.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_package_says_what_it_is_for(init: Path) -> None:
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    assert len(doc.split()) >= 5 and doc != "CardPulse.", f"{init}: a docstring saying its job"
