-- Idempotency keys of commission-approval decisions (C-05): a repeated approve / reject / batch
-- with the same `Idempotency-Key` by the same caller answers the approvals it decided the first
-- time; the same key with another request is refused (409 `idempotency_conflict`).
-- depends: 0100_commission

CREATE TABLE commission_decision_keys (
    actor           text NOT NULL,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash    text NOT NULL,
    approval_ids    text[] NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT cp_now(),
    PRIMARY KEY (actor, idempotency_key)
);
