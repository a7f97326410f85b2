-- The console's card list (store/card_list.py) pages through an enterprise's cards in ICCID
-- order with a keyset cursor (`iccid > after ORDER BY iccid LIMIT 51`) and filters. Each
-- index below gives that order for one way of filtering, so a page reads about as many index
-- entries as it shows, not the enterprise's million cards (EXPLAIN findings in BENCHMARKS.md):
-- * every card of the enterprise, and the active ones (most cards): (enterprise_id, iccid),
--   which also serves every `enterprise_id = ...` lookup the plain index served;
-- * one operator: ICCIDs carry the issuer, so an operator's cards are one long run in ICCID
--   order and the enterprise index would skip over the other operators' runs first;
-- * one pool, and the members of used-up pools (pool_exhausted lives on the pool row, so the
--   list asks for the enterprise's exhausted pools first and reads their members by pool);
-- * cards with their own stop reasons (a few per cent), for "stopped", and one partial index
--   per own reason: the planner cannot estimate `'manual' = ANY(stop_reasons)` and, with only
--   the first, hashed every stopped card for a page of the rare `manual` (90 ms at 1M cards;
--   0.6 ms with its own index). A new own reason wants its own index here.
-- The plain indexes the first and third replace are dropped.
-- depends: 0014_people

CREATE INDEX cards_enterprise_iccid ON cards (enterprise_id, iccid);
DROP INDEX cards_enterprise;

CREATE INDEX cards_enterprise_operator ON cards (enterprise_id, operator, iccid);

CREATE INDEX cards_pool_iccid ON cards (pool_id, iccid) WHERE pool_id IS NOT NULL;
DROP INDEX cards_pool;

CREATE INDEX cards_own_reasons ON cards (enterprise_id, iccid) WHERE stop_reasons <> '{}';

CREATE INDEX cards_reason_manual ON cards (enterprise_id, iccid)
    WHERE 'manual' = ANY(stop_reasons);
CREATE INDEX cards_reason_package_quota ON cards (enterprise_id, iccid)
    WHERE 'package_quota' = ANY(stop_reasons);
CREATE INDEX cards_reason_pool_card_cap ON cards (enterprise_id, iccid)
    WHERE 'pool_card_cap' = ANY(stop_reasons);
