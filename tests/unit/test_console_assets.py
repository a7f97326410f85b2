"""The console's browser assets are the vendored npm files, unchanged, at the locked versions,
and no page loads anything from another site."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUMS = [ROOT / "api/console/static/vendor/SHA256SUMS", ROOT / "tests/support/vendor/SHA256SUMS"]
pytestmark = pytest.mark.req("CONSOLE")


def _lines() -> list[tuple[Path, str, str, str]]:
    out = []
    for sums in SUMS:
        for line in sums.read_text().splitlines():
            digest, name, package = line.split("  ")
            package_name, version = package.rsplit("@", 1)
            out.append((sums.parent / name, digest, package_name, version))
    return out


def test_every_vendored_file_matches_its_checksum() -> None:
    lines = _lines()
    assert len(lines) == 7
    for path, digest, _package, _version in lines:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path


def test_vendored_versions_are_the_locked_ones() -> None:
    lock = json.loads((ROOT / "vendor/package-lock.json").read_text())["packages"]
    wanted = json.loads((ROOT / "vendor/package.json").read_text())
    pinned = wanted["dependencies"] | wanted["devDependencies"]
    for _path, _digest, package, version in _lines():
        assert lock[f"node_modules/{package}"]["version"] == version == pinned[package]
    assert pinned["htmx.org"].startswith("2."), "htmx stays on 2.x (4.x changes CSRF handling)"


def test_pages_load_nothing_from_another_site() -> None:
    remote = re.compile(r"""(src|href)\s*=\s*["'](https?:)?//""")
    for template in (ROOT / "api/console/templates").rglob("*.html"):
        assert not remote.search(template.read_text()), template
