-- Quota enforcement: pools, per-cycle pool totals, the platform clock, card/pool rule state,
-- threshold alerts and their webhook deliveries.
-- depends: 0001_core

-- The platform's notion of "now". Tests and demos can move it (offset), so a cycle rollover can
-- be checked without waiting for a month; production leaves the offset at zero.
CREATE TABLE platform_clock (
    id             boolean PRIMARY KEY DEFAULT true CHECK (id),
    offset_seconds bigint NOT NULL DEFAULT 0
);
INSERT INTO platform_clock DEFAULT VALUES;

CREATE FUNCTION cp_now() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT now() + make_interval(secs => (SELECT offset_seconds FROM platform_clock))
$$;

-- The billing cycle containing `at` for a time zone: the first day of that calendar month.
CREATE FUNCTION cp_cycle(at timestamptz, tz text) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc('month', at AT TIME ZONE tz)::date
$$;

ALTER TABLE enterprises
    ADD COLUMN webhook_url    text,
    ADD COLUMN webhook_secret text;

CREATE TABLE pools (
    pool_id              text PRIMARY KEY,
    enterprise_id        text NOT NULL REFERENCES enterprises,
    limit_bytes          bigint NOT NULL CHECK (limit_bytes >= 0),
    per_card_limit_bytes bigint CHECK (per_card_limit_bytes >= 0),
    warn_percents        int[] NOT NULL DEFAULT '{80,90}',
    exhausted            boolean NOT NULL DEFAULT false,
    state_cycle          date,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pools_enterprise ON pools (enterprise_id);

-- Usage of the pool's members per cycle; for the current cycle it equals the sum of the
-- current members' cycle usage (a card moving pools takes its usage with it).
CREATE TABLE pool_cycle_usage (
    pool_id    text NOT NULL REFERENCES pools ON DELETE CASCADE,
    cycle      date NOT NULL,
    bytes      bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pool_id, cycle)
);

-- cards.stop_reasons holds the card's own reasons (manual, package_quota, pool_card_cap);
-- pool_exhausted comes from its pool, so a pool running dry is one row write, not one per card.
ALTER TABLE cards
    ADD CONSTRAINT cards_pool_fk FOREIGN KEY (pool_id) REFERENCES pools,
    ADD COLUMN warn_percents   int[] NOT NULL DEFAULT '{80,90}',
    ADD COLUMN reasons_cycle   date,
    ADD COLUMN desired_version bigint NOT NULL DEFAULT 0,
    DROP COLUMN desired_status;
CREATE INDEX cards_pool ON cards (pool_id) WHERE pool_id IS NOT NULL;

-- One alert per subject, cycle and threshold, ever.
CREATE TABLE alerts (
    alert_id      bigserial PRIMARY KEY,
    enterprise_id text NOT NULL REFERENCES enterprises,
    kind          text NOT NULL CHECK (kind IN ('card_package', 'pool')),
    subject       text NOT NULL,
    cycle         date NOT NULL,
    percent       int NOT NULL,
    used_bytes    bigint NOT NULL,
    limit_bytes   bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    webhook_state text NOT NULL DEFAULT 'none'
                  CHECK (webhook_state IN ('none', 'pending', 'delivered', 'failed')),
    attempts      int NOT NULL DEFAULT 0,
    next_attempt  timestamptz,
    last_error    text,
    UNIQUE (kind, subject, cycle, percent)
);
CREATE INDEX alerts_pending ON alerts (next_attempt) WHERE webhook_state = 'pending';
