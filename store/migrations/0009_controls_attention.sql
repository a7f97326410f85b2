-- The reconciler's scan reads only cards that may need a command: those with a stop reason
-- or stopped on the network (this partial index), and members of exhausted pools (cards_pool).
-- It used to read every card of its partitions each round, which grows with the fleet.
-- depends: 0008_hot_updates

CREATE INDEX cards_attention ON cards (operator, kafka_partition)
    WHERE cardinality(stop_reasons) > 0 OR network_status = 'stopped';
