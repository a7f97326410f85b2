"""Measure package enforcement latency on a running `cardpulse up` (a probe until `cardpulse
bench` exists): for N fresh cards with a 1000-byte package, push one signed 1200-byte record
and time how long until `GET /v1/cards/{iccid}` shows it `stopped`.

    .venv/bin/python scripts/enforcement_latency.py --api http://127.0.0.1:8000 \
        --state-dir .cardpulse --cards 40
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from cardpulse.signing import sign


def _status(api: httpx.Client, iccid: str) -> str | None:
    answer = api.get(f"/v1/cards/{iccid}")
    return str(answer.json()["desired_status"]) if answer.status_code == 200 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--state-dir", type=Path, default=Path(".cardpulse"))
    parser.add_argument("--cards", type=int, default=40)
    args = parser.parse_args()
    token = (args.state_dir / "admin-token").read_text().strip()
    api = httpx.Client(base_url=args.api, headers={"Authorization": f"Bearer {token}"})
    secret, run = secrets.token_urlsafe(16), secrets.randbelow(10**6)
    api.post("/v1/enterprises", json={"enterprise_id": "probe", "name": "Latency probe"})
    api.put("/v1/operators/onelink/push-secret", json={"secret": secret}).raise_for_status()
    samples = []
    for n in range(args.cards):
        iccid = f"898699{run:06d}{n:08d}"
        api.post("/v1/cards", json={"iccid": iccid, "enterprise_id": "probe",
                                    "operator": "onelink", "package_bytes": 1000})
        end = datetime.now(UTC) - timedelta(seconds=1)
        body = orjson.dumps({"records": [{
            "record_id": f"probe-{run}-{n}", "iccid": iccid, "bytes": 1200,
            "start": (end - timedelta(minutes=1)).isoformat(), "end": end.isoformat()}]})
        stamp = str(int(time.time()))
        api.post("/v1/upstream/onelink/usage", content=body, headers={
            "X-Cardpulse-Timestamp": stamp, "X-Cardpulse-Signature": sign(secret, stamp, body),
        }).raise_for_status()
        accepted = time.perf_counter()
        while _status(api, iccid) != "stopped":
            time.sleep(0.025)  # stays under the API's per-key rate limit
        samples.append((time.perf_counter() - accepted) * 1000)
    samples.sort()
    print(f"cards={len(samples)} p50={statistics.median(samples):.1f} ms "
          f"p90={samples[int(len(samples) * 0.9)]:.1f} ms max={samples[-1]:.1f} ms")


if __name__ == "__main__":
    main()
