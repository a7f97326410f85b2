-- The transactional outbox of business events (orders, payments, wallets): an event is written
-- in the same transaction as the change it announces, and a relay (streams/outbox.py) sends it
-- to its topic afterwards. At least once: a crash between sending and marking sends it again,
-- and consumers drop repeats by `event_id`, which is also the primary key here, so the same
-- event enqueued twice (a retried request) is kept once.
-- depends: 0021_audit

CREATE TABLE outbox_events (
    event_id     text PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 200),
    topic        text NOT NULL,
    key          text NOT NULL,
    kind         text NOT NULL,
    data         jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT cp_now(),
    enqueued_seq bigserial NOT NULL,
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox_events (enqueued_seq) WHERE published_at IS NULL;
