"""Push signatures: HMAC-SHA256 over "<timestamp>.<raw body>", 300 s of allowed skew."""

from __future__ import annotations

import hashlib
import hmac

from core.signing import sign, signature_problem

BODY = b'{"records": []}'
SECRET = "0123456789abcdef"


def test_sign_matches_the_contract_formula() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, BODY) == f"sha256={expected}"


def test_good_signature_passes() -> None:
    assert signature_problem(SECRET, "1700000000", sign(SECRET, 1700000000, BODY), BODY,
                             now=1700000100, max_skew_s=300) is None


def test_refusals_say_why() -> None:
    good = sign(SECRET, 1700000000, BODY)
    cases = {
        "no push secret is configured for this operator":
            (None, "1700000000", good, BODY, 1700000000),
        "X-Cardpulse-Timestamp and X-Cardpulse-Signature headers are required":
            (SECRET, None, good, BODY, 1700000000),
        "X-Cardpulse-Timestamp must be unix seconds":
            (SECRET, "soon", good, BODY, 1700000000),
        "X-Cardpulse-Timestamp is more than 300 s away from the server clock":
            (SECRET, "1700000000", good, BODY, 1700000301),
        "signature does not match":
            (SECRET, "1700000000", good, BODY + b" ", 1700000000),
    }
    for reason, (secret, ts, sig, body, now) in cases.items():
        assert signature_problem(secret, ts, sig, body, now, 300) == reason


def test_wrong_secret_fails() -> None:
    other = sign("another-secret-value", 1700000000, BODY)
    assert signature_problem(SECRET, "1700000000", other, BODY, 1700000000, 300) == (
        "signature does not match")
