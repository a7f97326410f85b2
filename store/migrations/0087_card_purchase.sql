-- Card purchases (shared/specs/business.md G2-01, G1-17): physical cards of a product bought
-- by an end user (one card) or an enterprise (bulk), store/card_purchases.py.
-- * `packages.card_price_fen`: what one physical card of the product costs (set by the
--   platform; NULL: the product's cards are not sold). A card bought this way is registered
--   with the product (`cards.product_id`, 0085).
-- * `orders.quantity`: how many cards a card_purchase order buys; amount = quantity × price.
-- * The stock: cards registered, not opened and not sold, under the platform's stock
--   enterprise (`CARDPULSE_CARD_STOCK_ENTERPRISE`) with the product; completion allocates
--   `quantity` of them (`orders.allocated`: their ICCIDs; `cards.sold_by_order`: the order) and
--   moves them to the buyer's enterprise (an end user's stay where they are, sold).
-- depends: 0085_card_events

ALTER TABLE packages ADD COLUMN card_price_fen bigint CHECK (card_price_fen > 0);
ALTER TABLE orders
    ADD COLUMN quantity  integer CHECK (quantity BETWEEN 1 AND 100000),
    ADD COLUMN allocated text[];
ALTER TABLE cards ADD COLUMN sold_by_order text REFERENCES orders (order_id);
CREATE INDEX cards_stock ON cards (enterprise_id, product_id, iccid)
    WHERE NOT opened AND sold_by_order IS NULL;
