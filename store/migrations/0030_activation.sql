-- Opening cards that were bought but never opened (shared/specs/business.md G2-17, I-63): an
-- `activate` desired change that the controls carry out with the operator's own open call.
-- * `cards.opened`: whether the operator network has the card opened. Every card registered
--   before, and every card registered without `opened: false`, is opened (today's behaviour).
--   It becomes true when the network confirms the card `active` (an answer, a status read or
--   the status feed) and never goes back.
-- * A card registered as not opened also carries the own stop reason `not_opened`, which only
--   an activation removes (domain.quota.NOT_OPENED; the quota rules never touch it, like
--   `manual`): a card with any other reason is not opened until that reason clears too.
-- depends: 0021_audit

ALTER TABLE cards ADD COLUMN opened boolean NOT NULL DEFAULT true;

-- The command a card needs to reach its desired status, or NULL (domain.control.plan.command):
-- an unknown network status counts as running for an opened card and as not running for a
-- card never opened, which is opened (`activate`), never resumed or stopped.
CREATE FUNCTION cp_control_command(desired text, network text, opened boolean) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN (desired = 'active') = (network = 'active' OR (network = 'unknown' AND opened))
            THEN NULL
        WHEN desired = 'stopped' THEN 'stop'
        WHEN opened THEN 'resume'
        ELSE 'activate'
    END
$$;

-- `not_opened` first among the reasons the API shows (domain.quota.REASON_ORDER).
CREATE OR REPLACE FUNCTION cp_effective_reasons(own text[], pool_exhausted boolean) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(r ORDER BY coalesce(array_position(
               ARRAY['not_opened', 'manual', 'package_quota', 'pool_exhausted',
                     'pool_card_cap']::text[], r),
               99), r COLLATE "C"), '{}'::text[])
    FROM (SELECT DISTINCT r FROM unnest(own || CASE WHEN coalesce(pool_exhausted, false)
                                                    THEN ARRAY['pool_exhausted']::text[]
                                                    ELSE '{}'::text[] END) AS r) AS reasons
$$;

-- The reconciler reads the cards never opened (they may be due an activation though they
-- have no reason left and no status read yet); the card list filters by the new reason
-- (migration 0015: one partial index per own reason).
CREATE INDEX cards_unopened ON cards (operator, kafka_partition) WHERE NOT opened;
CREATE INDEX cards_reason_not_opened ON cards (enterprise_id, iccid)
    WHERE 'not_opened' = ANY(stop_reasons);
