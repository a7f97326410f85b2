-- The per-card facts of the commission engine (shared/specs/business.md §5, H-10, H-26,
-- H-29, H-30, H-41), read by store/commission_facts.py:
-- * `card_real_name`: whether a card is real-name verified and since when (H-41). Filled from
--   the operators' `real_name_verified` card events (the trigger below, in the transaction
--   that stores the event; backfilled here) and from the real-name import
--   (`store.commission_facts.record_real_name`). The earliest verified instant is kept; a
--   `verified = false` (an import) is kept only while the card was never verified.
-- * `card_attributions`: the agent a card's activations and sales count for (H-29): the first
--   attribution wins (its first completed package order, or a promotion link), except one made
--   by the platform, which overrides. Every change is audited (`card_attribution`).
-- * `activation_snapshots`: each agent's activation count at a month boundary (H-30), taken
--   once and never changed.
-- depends: 0100_commission

CREATE TABLE card_real_name (
    iccid      text PRIMARY KEY REFERENCES cards (iccid),
    verified   boolean NOT NULL,
    at         timestamptz NOT NULL,
    source     text NOT NULL CHECK (source IN ('event', 'import')),
    source_ref text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT cp_now()
);

CREATE FUNCTION cp_record_real_name(p_iccid text, p_verified boolean, p_at timestamptz,
                                    p_source text, p_ref text) RETURNS boolean
LANGUAGE sql AS $$
    WITH put AS (
        INSERT INTO card_real_name AS r (iccid, verified, at, source, source_ref)
        SELECT p_iccid, p_verified, p_at, p_source, p_ref
        WHERE EXISTS (SELECT 1 FROM cards WHERE iccid = p_iccid)
        ON CONFLICT (iccid) DO UPDATE SET verified = EXCLUDED.verified, at = EXCLUDED.at,
            source = EXCLUDED.source, source_ref = EXCLUDED.source_ref, updated_at = cp_now()
        WHERE (EXCLUDED.verified AND NOT r.verified)
           OR (EXCLUDED.verified AND r.verified AND EXCLUDED.at < r.at)
           OR (NOT EXCLUDED.verified AND NOT r.verified)
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM put)
$$;

CREATE FUNCTION card_events_real_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.type = 'real_name_verified' AND EXISTS (
            SELECT 1 FROM cards WHERE iccid = NEW.iccid AND operator = NEW.operator) THEN
        PERFORM cp_record_real_name(NEW.iccid, true, NEW.at, 'event',
                                    NEW.operator || ':' || NEW.event_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER card_events_real_name AFTER INSERT ON card_events
    FOR EACH ROW EXECUTE FUNCTION card_events_real_name();

CREATE TABLE card_attributions (
    iccid      text PRIMARY KEY REFERENCES cards (iccid),
    agent_id   text NOT NULL REFERENCES agents (agent_id),
    source     text NOT NULL CHECK (source IN ('order', 'promotion', 'platform')),
    source_ref text NOT NULL,
    at         timestamptz NOT NULL
);
CREATE INDEX card_attributions_agent ON card_attributions (agent_id);

-- What existed before this migration (and what a repair may re-derive): the earliest
-- real-name event of each card, and the attribution of each card to the agent of its first
-- completed package order. Rows already there are kept.
CREATE FUNCTION cp_commission_facts_backfill() RETURNS void LANGUAGE sql AS $$
INSERT INTO card_real_name (iccid, verified, at, source, source_ref)
SELECT DISTINCT ON (e.iccid) e.iccid, true, e.at, 'event', e.operator || ':' || e.event_id
FROM card_events e JOIN cards c ON c.iccid = e.iccid AND c.operator = e.operator
WHERE e.type = 'real_name_verified'
ORDER BY e.iccid, e.at, e.operator, e.event_id
ON CONFLICT (iccid) DO NOTHING;
INSERT INTO card_attributions (iccid, agent_id, source, source_ref, at)
SELECT DISTINCT ON (o.iccid) o.iccid, o.agent_id, 'order', o.order_id, a.at
FROM orders o
JOIN cards c ON c.iccid = o.iccid
JOIN LATERAL (SELECT min(at) AS at FROM audit_events
              WHERE subject_kind = 'order' AND subject_id = o.order_id
                AND to_state = 'completed') a ON a.at IS NOT NULL
WHERE o.kind = 'package' AND o.agent_id IS NOT NULL
ORDER BY o.iccid, a.at, o.order_id
ON CONFLICT (iccid) DO NOTHING;
$$;
SELECT cp_commission_facts_backfill();

CREATE TABLE activation_snapshots (
    agent_id    text NOT NULL REFERENCES agents (agent_id),
    month       text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    activations integer NOT NULL CHECK (activations >= 0),
    taken_at    timestamptz NOT NULL,
    PRIMARY KEY (agent_id, month)
);
CREATE INDEX activation_snapshots_month ON activation_snapshots (month);
