-- Promotion links and card boards (G1-16): an agent promotes a listed number card through a
-- link or a card board; every activation obtained through one is attributed to that agent
-- (the commission engine, H, reads `agent_id` by `code`). Revoked links attribute nothing new.
-- depends: 0023_price_book

CREATE TABLE promotion_links (
    code       text PRIMARY KEY,
    agent_id   text NOT NULL REFERENCES agents,
    package_id text NOT NULL REFERENCES packages,
    medium     text NOT NULL CHECK (medium IN ('link', 'board')),
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT cp_now()
);
CREATE INDEX promotion_links_agent ON promotion_links (agent_id, created_at);
