-- The commission engine (shared/specs/business.md §5, H): rules, records, unfreeze approvals.
-- * `commission_rules`: one row per rule version (H-06). A version is immutable once active;
--   editing creates version n+1 (store/commission_rules.py). `terms` holds the kind's own
--   fields (recharge condition, combined gate, number-card conditions), `tiers` the optional
--   overlay (H-25, H-28). Scope: `package_ids` (non-empty) or `business_line`.
-- * `commission_records`: every commission line (SM-H-COMM), once per `idem_key` (H-37):
--   per_order `per_order:{rule}:{order}:{unit}`, one_time `one_time:{rule}:{iccid}`,
--   long_term/combined `long_term:{rule}:{order}`, number card `number_card:{batch}:{line}`.
--   `part` is the mechanics that produced it (a combined rule yields one_time and long_term
--   parts), `rule_kind` the rule's kind. Money moves only through the ledger, with transfer
--   ids `commission:{record_id}:{step}` (store/commissions.py).
-- * `commission_approvals`: the unfreeze approval of a record (SM-H-APPROVAL), at most one.
-- * `commission_inbox`: the stream events the commission consumer has applied, by event id.
-- depends: 0095_refund_requests

CREATE TABLE commission_rules (
    rule_id           text NOT NULL CHECK (rule_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    version           integer NOT NULL CHECK (version >= 1),
    agent_id          text NOT NULL REFERENCES agents (agent_id),
    kind              text NOT NULL CHECK (kind IN ('per_order', 'one_time', 'long_term',
                                                    'combined', 'number_card_settlement')),
    package_ids       text[] NOT NULL DEFAULT '{}',
    business_line     text REFERENCES business_lines (business_line),
    amount_mode       text NOT NULL CHECK (amount_mode IN ('fixed', 'percent')),
    amount_value      bigint NOT NULL CHECK (amount_value >= 0),
    freeze_days       integer NOT NULL CHECK (freeze_days BETWEEN 0 AND 365),
    requires_approval boolean NOT NULL,
    terms             jsonb NOT NULL DEFAULT '{}',
    tiers             jsonb,
    effective_from    timestamptz NOT NULL,
    effective_to      timestamptz,
    status            text NOT NULL CHECK (status IN ('draft', 'active', 'retired')),
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT cp_now(),
    PRIMARY KEY (rule_id, version),
    CONSTRAINT commission_rules_scope CHECK ((cardinality(package_ids) > 0) <> (business_line IS NOT NULL)),
    CONSTRAINT commission_rules_percent CHECK (amount_mode = 'fixed' OR amount_value <= 10000),
    CONSTRAINT commission_rules_period CHECK (effective_to IS NULL OR effective_to > effective_from)
);
CREATE INDEX commission_rules_agent ON commission_rules (agent_id, kind) WHERE status = 'active';

CREATE TABLE commission_records (
    record_id       text PRIMARY KEY,
    idem_key        text NOT NULL UNIQUE,
    part            text NOT NULL CHECK (part IN ('per_order', 'one_time', 'long_term',
                                                  'number_card')),
    rule_kind       text NOT NULL,
    rule_id         text NOT NULL,
    rule_version    integer NOT NULL,
    agent_id        text NOT NULL REFERENCES agents (agent_id),
    iccid           text,
    order_id        text REFERENCES orders (order_id),
    unit            integer,
    batch_id        text,
    line_no         integer,
    amount_fen      bigint NOT NULL CHECK (amount_fen >= 0),
    state           text NOT NULL CHECK (state IN ('awaiting_conditions', 'frozen', 'unfreezing',
                                                   'available', 'invalid', 'rejected',
                                                   'reversed')),
    freeze_days     integer NOT NULL,
    requires_approval boolean NOT NULL,
    source_account  text NOT NULL,            -- where the money comes from (revenue / factory)
    explanation     jsonb NOT NULL,           -- base, formula, tier, conditions (H-39)
    produced_at     timestamptz NOT NULL,
    frozen_at       timestamptz,
    unfreeze_due_at timestamptz,              -- timer-driven parts only (H-13)
    unfreezing_at   timestamptz,
    available_at    timestamptz,
    closed_at       timestamptz,              -- invalid / rejected / reversed
    reason          text,
    FOREIGN KEY (rule_id, rule_version) REFERENCES commission_rules (rule_id, version)
);
CREATE INDEX commission_records_agent ON commission_records (agent_id, state, produced_at);
CREATE INDEX commission_records_card ON commission_records (iccid) WHERE iccid IS NOT NULL;
CREATE INDEX commission_records_order ON commission_records (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX commission_records_batch ON commission_records (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX commission_records_due ON commission_records (unfreeze_due_at)
    WHERE state = 'frozen' AND unfreeze_due_at IS NOT NULL;

CREATE TABLE commission_approvals (
    approval_id text PRIMARY KEY,
    record_id   text NOT NULL UNIQUE REFERENCES commission_records (record_id),
    state       text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'closed')),
    created_at  timestamptz NOT NULL,
    decided_at  timestamptz,
    decided_by  text,
    reason      text,
    CONSTRAINT commission_approvals_reason CHECK (state <> 'rejected' OR length(btrim(reason)) > 0)
);
CREATE INDEX commission_approvals_pending ON commission_approvals (created_at)
    WHERE state = 'pending';

CREATE TABLE commission_inbox (
    event_id    text PRIMARY KEY,
    kind        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT cp_now()
);
