-- Refund requests (shared/specs/business.md §7.2 "refund package order": the platform operator
-- requests, platform finance approves; SM-G2-ORDER "refund approved → refunding").
-- * `refund_requests`: one row per request, `requested` until decided: `approved` (the refund
--   ran), `rejected` (with a reason) or `failed` (the refund was refused at approval time; the
--   refusal kept in `failure`). `amount_fen` null: all that remains refundable.
-- * At most one open (`requested`) request per order; a request is idempotent by its
--   requester's key (C-05).
-- depends: 0087_card_purchase

CREATE TABLE refund_requests (
    request_id      text PRIMARY KEY,
    order_id        text NOT NULL REFERENCES orders (order_id),
    amount_fen      bigint CHECK (amount_fen IS NULL OR amount_fen > 0),
    reason          text NOT NULL,
    state           text NOT NULL DEFAULT 'requested'
        CHECK (state IN ('requested', 'approved', 'rejected', 'failed')),
    requested_by    text NOT NULL,
    requested_at    timestamptz NOT NULL,
    decided_by      text,
    decided_at      timestamptz,
    decision_reason text,
    failure         jsonb,
    idempotency_key text,
    request_hash    text NOT NULL,
    UNIQUE (requested_by, idempotency_key),
    CHECK ((state = 'requested') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX refund_requests_one_open ON refund_requests (order_id)
    WHERE state = 'requested';
CREATE INDEX refund_requests_by_state ON refund_requests (state, requested_at DESC);
