"""Run the schemathesis CLI with one compatibility patch.

grafana-client (through niquests) installs urllib3-future, which replaces urllib3's pool
manager; schemathesis counts a pool manager's connections with `pools.keys()`, which that one
lacks. The count only decides whether to resend a request on a dropped keep-alive connection,
so without it schemathesis simply does not resend.
"""

from __future__ import annotations

from typing import Any

from schemathesis.cli import schemathesis
from schemathesis.transport import requests as transport

_count = transport._count_opened_connections


def _count_or_zero(session: Any) -> int:
    try:
        return _count(session)
    except AttributeError:
        return 0


transport._count_opened_connections = _count_or_zero

if __name__ == "__main__":
    schemathesis()
