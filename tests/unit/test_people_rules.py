"""The rules for people: tenants by role, password rules, one-time passwords, hashing."""

from __future__ import annotations

import pytest

from core.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from domain.people.rules import (
    MIN_PASSWORD,
    ONE_TIME_ALPHABET,
    one_time_password,
    password_problem,
    tenant_problem,
)

pytestmark = pytest.mark.req("PEOPLE")


def test_platform_roles_have_no_tenant_and_enterprise_roles_one() -> None:
    assert tenant_problem("admin", None) is None
    assert tenant_problem("platform_ops", None) is None
    assert tenant_problem("enterprise_admin", "acme") is None
    assert tenant_problem("enterprise_viewer", "acme") is None
    assert "no tenant" in (tenant_problem("admin", "acme") or "")
    assert "its tenant" in (tenant_problem("enterprise_viewer", None) or "")


@pytest.mark.parametrize(("password", "problem"), [
    ("short", f"at least {MIN_PASSWORD}"), ("1234567890123", "only digits"),
    ("my-li.wei-secret", "contains the login"), ("x" * 257, "at most 256"),
    ("a long passphrase", None),
])
def test_password_rules(password: str, problem: str | None) -> None:
    found = password_problem(password, "li.wei")
    assert (found is None) if problem is None else (problem.split()[-1] in (found or ""))


def test_one_time_passwords_are_random_and_valid() -> None:
    made = {one_time_password() for _ in range(50)}
    assert len(made) == 50
    for password in made:
        assert len(password) == 16 and set(password) <= set(ONE_TIME_ALPHABET)
        assert password_problem(password, "someone") is None or password.isdigit()


def test_hashes_are_argon2id_salted_and_verify() -> None:
    one, two = hash_password("correct horse"), hash_password("correct horse")
    assert one.startswith("$argon2id$") and one != two
    assert verify_password(one, "correct horse") and not verify_password(one, "wrong horse")
    assert not verify_password("not a hash", "x") and not verify_password(DUMMY_HASH, "x")
    assert not needs_rehash(one)
