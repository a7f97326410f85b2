-- Refunds in part and in full of package orders, refunds of recharges, and the release of
-- intercepted orders (shared/specs/business.md SM-G2-ORDER, SM-G2-RECHARGE, G1-18, G2-20).
-- * `order_refunds`: one row per refund asked of an order (`seq` 1, 2, … in order), `asked`
--   while its money is on the way back (the order is `refunding`), then `paid`. A refund is
--   idempotent by its caller's key (C-05); at most one is asked at a time per order.
-- * `orders.refunded_fen`: what was paid back so far (≤ amount_fen; = amount_fen: refunded).
-- * `orders.released_at` / `released_by`: who let an intercepted order proceed (G1-18).
-- depends: 0060_fulfilment

ALTER TABLE orders
    ADD COLUMN refunded_fen bigint NOT NULL DEFAULT 0
        CHECK (refunded_fen >= 0 AND refunded_fen <= amount_fen),
    ADD COLUMN released_at  timestamptz,
    ADD COLUMN released_by  text;

CREATE TABLE order_refunds (
    refund_id       text PRIMARY KEY,
    order_id        text NOT NULL REFERENCES orders (order_id),
    seq             integer NOT NULL CHECK (seq >= 1),
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    state           text NOT NULL CHECK (state IN ('asked', 'paid')),
    reason          text,
    created_by      text NOT NULL,
    idempotency_key text,
    request_hash    text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT cp_now(),
    paid_at         timestamptz,
    UNIQUE (order_id, seq),
    UNIQUE (created_by, idempotency_key)
);
CREATE UNIQUE INDEX order_refunds_one_asked ON order_refunds (order_id) WHERE state = 'asked';

CREATE INDEX orders_intercepted ON orders (created_at) WHERE intercepted;
