"""The console's message catalogue: find every message of the console (templates and Python
under api/console, marked `_()`, `N_()` or `gettext()`), and list those without a Chinese
translation in api/console/locale/zh_CN/*.po.

    python scripts/catalogue.py                  # list untranslated messages (exit 1 if any)
    python scripts/catalogue.py --into pools     # also add them, empty, to locale/zh_CN/pools.po

Placeholders are Python's: `_("%(count)s cards", count=n)` in templates (Jinja's new-style
gettext) and `gettext(message) % {...}` in Python.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.console.messages import add_missing, missing  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", help="the area file (locale/zh_CN/<into>.po) to add them to")
    args = parser.parse_args()
    absent = missing()
    for message, where in absent.items():
        print(f"{where}: {message!r}")
    if args.into and absent:
        path = add_missing(args.into, absent)
        print(f"added {len(absent)} messages to {path.relative_to(ROOT)}: translate them")
    print(f"{len(absent)} messages without a translation", file=sys.stderr)
    return 1 if absent and not args.into else 0


if __name__ == "__main__":
    sys.exit(main())
