"""Vendor the console's browser assets from npm: `npm ci` against vendor/package-lock.json in a
scratch directory, copy the built files the console serves into api/console/static/vendor (and
axe-core, which only the browser tests inject, into tests/support/vendor), and write SHA256SUMS
beside them. The copies are committed: nothing is loaded from a CDN or from npm at run time.

    python scripts/vendor_assets.py          # refresh after changing vendor/package.json
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "api" / "console" / "static" / "vendor"
TESTS = ROOT / "tests" / "support" / "vendor"

# (package, file inside the package, where it goes, name there)
FILES = [
    ("htmx.org", "dist/htmx.min.js", STATIC, "htmx.min.js"),
    ("alpinejs", "dist/cdn.min.js", STATIC, "alpine.min.js"),
    ("echarts", "dist/echarts.min.js", STATIC, "echarts.min.js"),
    ("uplot", "dist/uPlot.iife.min.js", STATIC, "uPlot.iife.min.js"),
    ("uplot", "dist/uPlot.min.css", STATIC, "uPlot.min.css"),
    ("@picocss/pico", "css/pico.min.css", STATIC, "pico.min.css"),
    ("axe-core", "axe.min.js", TESTS, "axe.min.js"),
]


def sums_line(path: Path, package: str, version: str) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{digest}  {path.name}  {package}@{version}\n"


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(ROOT / "vendor" / name, work / name)
        print("npm ci (vendor/package-lock.json)…", flush=True)
        npm = shutil.which("npm")
        if npm is None:
            print("npm is not installed (Debian: apt-get install npm)", file=sys.stderr)
            return 1
        subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],  # noqa: S603
                       cwd=work,
                       check=True)
        sums: dict[Path, list[str]] = {STATIC: [], TESTS: []}
        for package, inside, target, name in FILES:
            modules = work / "node_modules" / package
            version = json.loads((modules / "package.json").read_text())["version"]
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(modules / inside, target / name)
            sums[target].append(sums_line(target / name, package, version))
            print(f"  {package}@{version} {inside} -> {(target / name).relative_to(ROOT)}")
        for target, lines in sums.items():
            (target / "SHA256SUMS").write_text("".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
