-- CardPulse core schema: tenants, keys, operator secrets, cards, usage and its per-cycle totals.
-- depends:

CREATE TABLE enterprises (
    enterprise_id text PRIMARY KEY,
    name          text NOT NULL,
    timezone      text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    key_hash      bytea NOT NULL UNIQUE,
    enterprise_id text NOT NULL REFERENCES enterprises ON DELETE CASCADE,
    role          text NOT NULL CHECK (role IN ('enterprise_admin', 'enterprise_viewer')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

CREATE TABLE operator_secrets (
    operator   text PRIMARY KEY CHECK (operator IN ('onelink', 'jasper', 'ctcc')),
    secret     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cards (
    iccid          text PRIMARY KEY,
    enterprise_id  text NOT NULL REFERENCES enterprises,
    operator       text NOT NULL CHECK (operator IN ('onelink', 'jasper', 'ctcc')),
    package_bytes  bigint CHECK (package_bytes >= 0),
    pool_id        text,
    desired_status text NOT NULL DEFAULT 'active' CHECK (desired_status IN ('active', 'stopped')),
    stop_reasons   text[] NOT NULL DEFAULT '{}',
    network_status text NOT NULL DEFAULT 'unknown'
                   CHECK (network_status IN ('active', 'stopped', 'unknown')),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cards_enterprise ON cards (enterprise_id);

-- One row per distinct (operator, record_id): record_key is a 128-bit hash of both, so the
-- primary key is the dedupe key and redelivered or re-pushed records insert nothing.
-- A record's billing cycle is the calendar month of its `end` in the enterprise's time zone.
CREATE TABLE usage_records (
    record_key  uuid PRIMARY KEY,
    operator    text NOT NULL,
    record_id   text NOT NULL,
    iccid       text NOT NULL,
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL,
    cycle       date NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX usage_records_end_brin ON usage_records USING brin (end_at);

CREATE TABLE card_cycle_usage (
    iccid      text NOT NULL,
    cycle      date NOT NULL,
    bytes      bigint NOT NULL DEFAULT 0,
    records    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (iccid, cycle)
);

-- Input the streams could not use, kept with the reason instead of being dropped.
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    source      text NOT NULL,
    reason      text NOT NULL,
    record_key  uuid,
    operator    text,
    iccid       text,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    replayed_at timestamptz
);
CREATE UNIQUE INDEX dead_letters_record ON dead_letters (record_key, reason)
    WHERE record_key IS NOT NULL;
