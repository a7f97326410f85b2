-- The quota rules that SQL must filter or compute by, each as one named function, so that no
-- query repeats a rule inline. Each is property-tested against its Python original in
-- domain.quota (tests/integration/test_rule_functions.py).
-- depends: 0011_attention_estimates

-- The reasons the card-level automatic rules own (domain.quota.CARD_RULES).
CREATE FUNCTION cp_card_rules() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['package_quota', 'pool_card_cap']::text[]
$$;

-- A pool is exhausted while its members' cycle usage has reached its limit
-- (domain.quota.pool_exhausted).
CREATE FUNCTION cp_pool_exhausted(used bigint, lim bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT used >= lim
$$;

-- All reasons of a card, its own plus pool_exhausted from its pool, in the order the API
-- shows them (domain.quota.effective_reasons): known reasons first in REASON_ORDER, others
-- after them by code point.
CREATE FUNCTION cp_effective_reasons(own text[], pool_exhausted boolean) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(r ORDER BY coalesce(array_position(
               ARRAY['manual', 'package_quota', 'pool_exhausted', 'pool_card_cap']::text[], r),
               99), r COLLATE "C"), '{}'::text[])
    FROM (SELECT DISTINCT r FROM unnest(own || CASE WHEN coalesce(pool_exhausted, false)
                                                    THEN ARRAY['pool_exhausted']::text[]
                                                    ELSE '{}'::text[] END) AS r) AS reasons
$$;

-- A card runs only while it has no reason at all (domain.quota.desired_status).
CREATE FUNCTION cp_desired_status(own text[], pool_exhausted boolean) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN cardinality(own) > 0 OR coalesce(pool_exhausted, false)
                THEN 'stopped' ELSE 'active' END
$$;
