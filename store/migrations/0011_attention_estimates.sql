-- The planner cannot estimate `cardinality(stop_reasons) > 0` (it guesses a third of the
-- rows), so the reconciler's scan planned for a third of the fleet and hashed every card each
-- round. `stop_reasons <> '{}'` is estimated from the column's statistics (almost every card
-- has no reason), so the same partial index is rebuilt on that predicate; the cycle rollover
-- can use it too. Failed controls get a partial index for the controls' failed-cards gauge,
-- which counted them by scanning every control row every 10 s.
-- depends: 0010_next_check

DROP INDEX cards_attention;
CREATE INDEX cards_attention ON cards (operator, kafka_partition)
    WHERE stop_reasons <> '{}' OR network_status = 'stopped';

CREATE INDEX card_control_failed ON card_control (iccid) WHERE state = 'failed';
