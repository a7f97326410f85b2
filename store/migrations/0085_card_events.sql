-- Operator card events and number-card event orders (shared/specs/business.md G2-01, G2-09,
-- G2-17, G1-15, G1-16): `POST /v1/upstream/{operator}/card-events` (store/card_events.py).
-- * `cards.product_id`: the product a card was registered with (a package of the price book).
--   A card is a **number card** when that product's business line is `number_card`; a card
--   without a product is a traffic card (every card registered before). Set by the platform:
--   `PUT /v1/cards/{iccid}/product`.
-- * `card_events`: every event an operator pushed, once per (operator, event_id): a repeat
--   inserts nothing and changes nothing. `outcome`: `recorded` (a traffic card: announced
--   only), `number_card` (its `number_card_event` order is `order_id`), `unknown_card` (kept in
--   dead_letters too, like usage of a card CardPulse does not know).
-- * `orders.kind` gains `number_card_event` (no money through the platform: no ledger entry;
--   `amount_fen` is the operator's recharge amount, 0 for the other types) and
--   `card_purchase` (physical cards bought by an end user or an enterprise).
-- depends: 0060_fulfilment

ALTER TABLE cards ADD COLUMN product_id text REFERENCES packages (package_id);

CREATE TABLE card_events (
    operator    text NOT NULL CHECK (operator IN ('onelink', 'jasper', 'ctcc')),
    event_id    text NOT NULL,
    iccid       text NOT NULL,
    type        text NOT NULL CHECK (type IN ('real_name_verified', 'activated', 'recharged')),
    amount_fen  bigint CHECK (amount_fen > 0),
    at          timestamptz NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('recorded', 'number_card', 'unknown_card')),
    order_id    text REFERENCES orders (order_id),
    received_at timestamptz NOT NULL DEFAULT cp_now(),
    PRIMARY KEY (operator, event_id),
    CONSTRAINT card_events_amount CHECK ((type = 'recharged') = (amount_fen IS NOT NULL))
);
CREATE INDEX card_events_card ON card_events (iccid, at);

ALTER TABLE orders DROP CONSTRAINT orders_kind_check;
ALTER TABLE orders ADD CONSTRAINT orders_kind_check CHECK (kind IN (
    'package', 'recharge', 'withdrawal', 'number_card_event', 'card_purchase'));
ALTER TABLE orders DROP CONSTRAINT orders_amount_fen_check;
ALTER TABLE orders ADD CONSTRAINT orders_amount_fen_check CHECK (
    amount_fen > 0 OR (kind = 'number_card_event' AND amount_fen = 0));
ALTER TABLE orders ADD COLUMN event_type text;   -- a number_card_event's card event type
