-- G2 orders (specs/business.md §2): package orders, recharges and withdrawals in one table,
-- each kind with its own state machine (domain/orders/machines.py). Money never lives here:
-- it moves in the ledger (0020), tagged with the order id; amounts are integer fen (C-01).
-- A transition is a compare-and-set on `state` (store/orders.py) in the transaction that
-- writes its audit row (C-08) and outbox event.
-- depends: 0040_outbox

CREATE TABLE orders (
    order_id        text PRIMARY KEY CHECK (order_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    kind            text NOT NULL CHECK (kind IN ('package', 'recharge', 'withdrawal')),
    state           text NOT NULL,
    method          text CHECK (method IN ('online', 'wallet', 'agent_wallet')),
    -- who: the caller that created it (key or user), its role, the agent (seller / wallet
    -- owner), the card (package orders, card-wallet recharges), the enterprise (its wallet)
    created_by      text NOT NULL,
    created_role    text NOT NULL,
    agent_id        text REFERENCES agents (agent_id),
    iccid           text,
    enterprise_id   text,
    wallet          text,               -- the ledger account a recharge credits / a payment debits
    package_id      text,
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),   -- what the payer pays
    fee_fen         bigint NOT NULL DEFAULT 0 CHECK (fee_fen >= 0),
    price_chain     jsonb,              -- the G1-13 snapshot of a package order
    price_risks     jsonb NOT NULL DEFAULT '[]',              -- G1-18 codes, [] = none
    intercepted     boolean NOT NULL DEFAULT false,
    payment_id      text UNIQUE,        -- the channel's payment (online) / payout (withdrawal)
    pay_url         text,
    payout_account  text,
    reason          text,
    idempotency_key text,
    request_hash    text,
    created_at      timestamptz NOT NULL DEFAULT cp_now(),
    updated_at      timestamptz NOT NULL DEFAULT cp_now(),
    pay_due_at      timestamptz,        -- pending_payment after this: cancelled (30 min)
    paid_at         timestamptz,
    finished_at     timestamptz,
    UNIQUE (created_by, idempotency_key)
);
CREATE INDEX orders_due ON orders (pay_due_at) WHERE state = 'pending_payment';
CREATE INDEX orders_agent ON orders (agent_id, created_at);
CREATE INDEX orders_card ON orders (iccid, package_id) WHERE iccid IS NOT NULL;

-- Every payment-channel notification applied (or refused) once: its notify_id is the key, and
-- one state change per subject (`payment:<id>`, `payout:<id>`) is guaranteed by the order's
-- compare-and-set plus this unique subject for the applied ones.
CREATE TABLE payment_notifications (
    notify_id   text PRIMARY KEY,
    subject     text NOT NULL,
    order_id    text,
    status      text NOT NULL,
    amount_fen  bigint NOT NULL,
    outcome     text NOT NULL,          -- applied | ignored | mismatch | unknown
    detail      text,
    received_at timestamptz NOT NULL DEFAULT cp_now()
);
CREATE UNIQUE INDEX payment_notifications_applied ON payment_notifications (subject)
    WHERE outcome = 'applied';
