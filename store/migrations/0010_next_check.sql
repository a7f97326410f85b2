-- The usage total at which a card's quota rules can next give a different answer this cycle
-- (its package, a warning threshold or its pool's per-card cap, whichever comes first); NULL
-- when none is left. Written by every evaluation (which creates the row of a card evaluated
-- before its first usage of the cycle); a row created by usage starts at 0, so a card's first
-- usage of a cycle is evaluated unless an evaluation came first. A usage batch then finds the cards to evaluate in the
-- RETURNING of its own upsert instead of joining every card against its rules.
-- depends: 0009_controls_attention

ALTER TABLE card_cycle_usage ADD COLUMN next_check bigint DEFAULT 0;
