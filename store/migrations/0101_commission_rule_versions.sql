-- Commission rule versions (specs/business.md H-06, H-07, C-05; store/commission_rules.py):
-- * `retired_at`: a retired version is in force only before this instant (its period is kept
--   as configured); a version retired before it began has `retired_at = effective_from` and
--   was never in force. Lookups and the overlap check use [effective_from,
--   least(effective_to, retired_at)).
-- * `request_hash`: the body that created the version, so that the same create or version
--   request sent again answers the same version, and a different one under the same rule id
--   or Idempotency-Key answers 409.
-- * `idempotency_key`: the Idempotency-Key a version was created under (C-05).
-- depends: 0100_commission

ALTER TABLE commission_rules
    ADD COLUMN retired_at timestamptz,
    ADD COLUMN request_hash text,
    ADD COLUMN idempotency_key text,
    ADD CONSTRAINT commission_rules_retired CHECK (retired_at IS NULL OR retired_at >= effective_from);
CREATE UNIQUE INDEX commission_rules_idempotency ON commission_rules (rule_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX commission_rules_lookup ON commission_rules (agent_id, kind, effective_from)
    WHERE status <> 'draft';
