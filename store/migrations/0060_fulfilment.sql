-- Fulfilment of package orders (shared/specs/business.md G2-17…G2-20, SM-G2-ORDER): the worker's
-- fulfilment timer (store/fulfilment.py) applies a paid card-managed package to its card, asks
-- for the card to be opened if it never was, and completes the order once both hold; a refund
-- reverts the package.
-- * `orders.package_before`: the card's package_bytes just before this order applied its package
--   (NULL: the card had none); `package_added`: the bytes this order added (NULL: not applied
--   yet); `package_applied_at` / `package_reverted_at`: when. The apply and the revert each run
--   in the transaction that records them, so neither happens twice.
-- * `orders.activation_asked_at`: when fulfilment asked for the card to be opened (G2-17).
-- * `orders.counted`: whether this order is in its card's package count (G2-19).
-- * `cards.package_count`: completed, non-refunded package orders of the card (G2-19).
-- depends: 0050_orders

ALTER TABLE orders
    ADD COLUMN package_before      bigint,
    ADD COLUMN package_added       bigint CHECK (package_added >= 0),
    ADD COLUMN package_applied_at  timestamptz,
    ADD COLUMN package_reverted_at timestamptz,
    ADD COLUMN activation_asked_at timestamptz,
    ADD COLUMN counted             boolean NOT NULL DEFAULT false;

ALTER TABLE cards ADD COLUMN package_count integer NOT NULL DEFAULT 0
    CHECK (package_count >= 0);

-- What the fulfilment timer scans: package orders being fulfilled, and failed ones whose money
-- is still on its way back.
CREATE INDEX orders_fulfilling ON orders (order_id)
    WHERE kind = 'package' AND state IN ('fulfilling', 'failed');
