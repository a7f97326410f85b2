-- Card orders through the delivery workflow (shared/specs/business.md I-63, G2-01, G1-17,
-- store/delivery/card_orders.py):
-- * `dl_products.package_id`: the package whose card purchases a `card_order` product delivers
--   (at most one such product per package). A paid card purchase of the package whose product
--   is bound to a template starts a project (order_no = the order id).
-- * `dl_card_orders`: what the delivery did to the order, one row per project: the ICCIDs
--   shipped and the logistics no. (the `ship_cards` node), when activation was asked and by
--   which node run, when every card reported active, the failures the operator confirmed
--   (`activate_cards`), and the customer's receipt (the project completed).
-- * `dl_event_seq`: ids of the delivery topic's events (store/delivery/events.py).
-- depends: 0200_delivery 0087_card_purchase

ALTER TABLE dl_products ADD COLUMN package_id text REFERENCES packages;
ALTER TABLE dl_products ADD CONSTRAINT dl_products_package_card_order
    CHECK (package_id IS NULL OR kind = 'card_order');
CREATE UNIQUE INDEX dl_products_package ON dl_products (package_id) WHERE package_id IS NOT NULL;

CREATE TABLE dl_card_orders (
    project_id          text PRIMARY KEY REFERENCES dl_projects ON DELETE CASCADE,
    order_id            text NOT NULL UNIQUE REFERENCES orders,
    iccids              text[] NOT NULL DEFAULT '{}',
    logistics_no        text CHECK (length(logistics_no) BETWEEN 1 AND 64),
    shipped_at          timestamptz,
    shipped_by          text,
    activation_run_id   bigint REFERENCES dl_node_runs ON DELETE SET NULL,
    activation_asked_at timestamptz,
    activated_at        timestamptz,
    failures            jsonb NOT NULL DEFAULT '[]',
    received_at         timestamptz,
    CHECK ((shipped_at IS NULL) = (logistics_no IS NULL))
);
CREATE INDEX dl_card_orders_activating ON dl_card_orders (activation_run_id)
    WHERE activation_run_id IS NOT NULL AND activated_at IS NULL;

CREATE SEQUENCE dl_event_seq;
