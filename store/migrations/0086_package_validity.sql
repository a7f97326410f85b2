-- Package validity (shared/specs/business.md G2-18, G2-19; packages.validity_cycles): a package
-- order applied to its card covers `validity_cycles` billing cycles, from the cycle it was
-- applied in. Its bytes count in each of them (the card's one `package_bytes` applies to every
-- cycle) and come off the card when the last one ends: the cycle rollover's expiry
-- (store/package_validity.py) takes them off once that cycle is over on the platform clock,
-- stamped with the instant the next cycle began.
-- * `card_packages`: one row per applied package order: the bytes it added, its first and last
--   covered cycle (the first day of each month, in the card's enterprise's time zone, like
--   `cp_cycle`), and when it expired (NULL: still counting). A refund before the end takes the
--   bytes off itself (G2-20); after the end there is nothing left to take off.
-- depends: 0060_fulfilment

CREATE TABLE card_packages (
    order_id    text PRIMARY KEY REFERENCES orders (order_id),
    iccid       text NOT NULL,
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    first_cycle date NOT NULL,
    last_cycle  date NOT NULL,
    expired_at  timestamptz,
    CONSTRAINT card_packages_cycles CHECK (last_cycle >= first_cycle)
);
CREATE INDEX card_packages_due ON card_packages (last_cycle, order_id) WHERE expired_at IS NULL;
CREATE INDEX card_packages_card ON card_packages (iccid);
