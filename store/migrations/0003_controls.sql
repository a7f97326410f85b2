-- Controls: what the operator network reports, and the reconciler's per-card command state.
-- depends: 0002_quota

ALTER TABLE cards
    ADD COLUMN kafka_partition   int,
    ADD COLUMN network_status_at timestamptz;
CREATE INDEX cards_partition ON cards (kafka_partition);

-- One row per card the reconciler has acted on. `target` is the status it drives toward;
-- `failed` is terminal for that target only: a new desired state starts over.
CREATE TABLE card_control (
    iccid           text PRIMARY KEY REFERENCES cards ON DELETE CASCADE,
    target          text NOT NULL CHECK (target IN ('active', 'stopped')),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt    timestamptz NOT NULL DEFAULT now(),
    last_command    text,
    last_outcome    text,
    last_error      text,
    last_command_at timestamptz,
    last_change_at  timestamptz
);
CREATE INDEX card_control_due ON card_control (next_attempt) WHERE state = 'pending';

-- The high-water mark of each polled cumulative usage counter, per card and cycle.
CREATE TABLE usage_snapshots (
    iccid      text NOT NULL,
    cycle      text NOT NULL,
    high_bytes bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (iccid, cycle)
);
