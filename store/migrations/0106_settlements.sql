-- Number-card settlement batches (shared/specs/business.md §5.6, H-31 … H-36): one batch per
-- (factory, period) — a second import of the same pair is 409 `settlement_exists` — and one
-- line per row of the statement (store/settlements.py).
-- * `settlement_batches`: the header (factory, period YYYY-MM, total fen) and the totals of the
--   import: lines, matched / unmatched, Σ agent commissions, retained profit (total − Σ agent
--   commissions at import; the live figure, which returns invalidated commissions to the
--   platform, is computed from the records), lines whose commission exceeds the line.
-- * `settlement_lines`: each line's card and amount; a matched line names the attributed
--   agent, its `number_card_settlement` rule version, the commission and its record; an
--   unmatched line (no attributed agent, or no rule) stays platform profit.
-- depends: 0102_commission_facts

CREATE TABLE settlement_batches (
    batch_id              text PRIMARY KEY,
    factory_id            text NOT NULL CHECK (factory_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    period                text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    total_fen             bigint NOT NULL CHECK (total_fen >= 0),
    lines                 integer NOT NULL CHECK (lines >= 0),
    matched               integer NOT NULL CHECK (matched >= 0),
    unmatched             integer NOT NULL CHECK (unmatched >= 0),
    agent_commission_fen  bigint NOT NULL CHECK (agent_commission_fen >= 0),
    retained_profit_fen   bigint NOT NULL,
    negative_margin_lines integer NOT NULL CHECK (negative_margin_lines >= 0),
    task_id               text,
    imported_by           text NOT NULL,
    imported_at           timestamptz NOT NULL,
    CONSTRAINT settlement_batches_once UNIQUE (factory_id, period),
    CONSTRAINT settlement_batches_lines CHECK (matched + unmatched = lines)
);
CREATE INDEX settlement_batches_imported ON settlement_batches (imported_at);

CREATE TABLE settlement_lines (
    batch_id        text NOT NULL REFERENCES settlement_batches (batch_id),
    line_no         integer NOT NULL,
    iccid           text NOT NULL,
    amount_fen      bigint NOT NULL CHECK (amount_fen >= 0),
    agent_id        text REFERENCES agents (agent_id),
    rule_id         text,
    rule_version    integer,
    commission_fen  bigint CHECK (commission_fen >= 0),
    record_id       text REFERENCES commission_records (record_id) DEFERRABLE INITIALLY DEFERRED,
    status          text NOT NULL CHECK (status IN ('matched', 'unmatched')),
    negative_margin boolean NOT NULL DEFAULT false,
    PRIMARY KEY (batch_id, line_no),
    CONSTRAINT settlement_lines_match CHECK (
        (status = 'matched') = (agent_id IS NOT NULL AND rule_id IS NOT NULL
                                AND commission_fen IS NOT NULL AND record_id IS NOT NULL))
);
