-- Packages and the price book (shared/specs/business.md G1-01…G1-18, SM-G1-PRICE).
--
-- A package carries its business line (G1-01), `card_managed` (G1-02), and either the
-- platform's purchase price (traffic cards, G1-04) or the factory's fixed price (number cards,
-- G1-15: no agent prices them). `version` counts changes of what an order snapshots.
--
-- `prices` holds the yin-yang menu: a `cost` row is what the agent `agent_id` pays for the
-- package (set by the platform for a top-level agent, by the parent for a downstream agent);
-- a `retail` row is what `agent_id` sells it at to end customers. Each row is one version of
-- the entry (kind, package, agent), in force over [valid_from, valid_to) on the platform clock;
-- its amount, owner and start never change (trigger). A new version closes the period of the
-- version it replaces (or, for one not yet started, marks it deleted): history is rows, never
-- rewrites. State (SM-G1-PRICE): active → invalid (an upstream change broke a bound, G1-12) →
-- active again only by a new version; active/invalid → deleted. Among the rows not deleted,
-- at most one per entry is in force at any instant (exclusion constraint).
-- depends: 0022_agents

CREATE TABLE packages (
    package_id         text PRIMARY KEY CHECK (package_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    name               text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
    business_line      text NOT NULL REFERENCES business_lines,
    card_managed       boolean NOT NULL DEFAULT true,
    purchase_price_fen bigint CHECK (purchase_price_fen > 0),
    factory_price_fen  bigint CHECK (factory_price_fen > 0),
    package_bytes      bigint CHECK (package_bytes >= 0),
    voice_minutes      integer CHECK (voice_minutes >= 0),
    validity_cycles    integer NOT NULL DEFAULT 1 CHECK (validity_cycles BETWEEN 1 AND 120),
    listed             boolean NOT NULL DEFAULT true,
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT cp_now(),
    updated_at         timestamptz NOT NULL DEFAULT cp_now(),
    CONSTRAINT packages_line_prices CHECK (
        (business_line = 'traffic_card' AND purchase_price_fen IS NOT NULL
            AND factory_price_fen IS NULL)
        OR (business_line = 'number_card' AND factory_price_fen IS NOT NULL
            AND purchase_price_fen IS NULL AND card_managed))
);

CREATE TABLE prices (
    price_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('cost', 'retail')),
    package_id      text NOT NULL REFERENCES packages,
    agent_id        text NOT NULL REFERENCES agents,
    version         integer NOT NULL CHECK (version >= 1),
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    valid_from      timestamptz NOT NULL,
    valid_to        timestamptz,
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'invalid', 'deleted')),
    status_reason   text,
    set_by          text NOT NULL,
    set_by_role     text NOT NULL,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT cp_now(),
    CONSTRAINT prices_period CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT prices_version UNIQUE (kind, package_id, agent_id, version),
    CONSTRAINT prices_idempotency UNIQUE (set_by, idempotency_key),
    CONSTRAINT prices_one_in_force EXCLUDE USING gist (
        kind WITH =, package_id WITH =, agent_id WITH =,
        tstzrange(valid_from, valid_to) WITH &&) WHERE (status <> 'deleted')
);
CREATE INDEX prices_agent ON prices (agent_id, package_id);

-- What a version is never changes; only its end (closed by a newer version) and its state do,
-- and a deleted version stays deleted.
CREATE FUNCTION prices_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.kind, NEW.package_id, NEW.agent_id, NEW.version, NEW.amount_fen, NEW.valid_from,
        NEW.set_by) IS DISTINCT FROM (OLD.kind, OLD.package_id, OLD.agent_id, OLD.version,
        OLD.amount_fen, OLD.valid_from, OLD.set_by) THEN
        RAISE EXCEPTION 'a price version is never rewritten: set a new version';
    END IF;
    IF OLD.status = 'deleted' AND NEW.status <> 'deleted' THEN
        RAISE EXCEPTION 'a deleted price stays deleted';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER prices_guard BEFORE UPDATE ON prices FOR EACH ROW EXECUTE FUNCTION prices_guard();
CREATE FUNCTION prices_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'price history is kept: mark a price deleted instead';
END $$;
CREATE TRIGGER prices_kept BEFORE DELETE ON prices FOR EACH ROW EXECUTE FUNCTION prices_kept();

-- Notifications (X-04) to an agent's people: in-app rows are read in the API; email rows are
-- an outbox (`pending`) for a sender that is not part of pricing.
CREATE TABLE notifications (
    notification_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id        text NOT NULL REFERENCES agents,
    channel         text NOT NULL CHECK (channel IN ('in_app', 'email')),
    template        text NOT NULL,
    data            jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL CHECK (status IN ('unread', 'read', 'pending', 'sent',
                                                    'failed')),
    created_at      timestamptz NOT NULL DEFAULT cp_now()
);
CREATE INDEX notifications_agent ON notifications (agent_id, notification_id);
