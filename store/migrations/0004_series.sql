-- Usage over time: hourly rollups per card and per pool, maintained by the usage writer in the
-- same transaction as the records; daily views on top. On TimescaleDB (when the extension can be
-- created) the rollups become hypertables with compression and retention, and the daily views
-- continuous aggregates; on plain PostgreSQL the same names are plain tables and views, so the
-- API and the dashboards run the same queries on both.
-- Daily buckets are calendar days in Asia/Shanghai (the operators' and billing default).
-- depends: 0003_controls

CREATE TABLE usage_hourly (
    iccid   text NOT NULL,
    hour    timestamptz NOT NULL,
    bytes   bigint NOT NULL,
    records bigint NOT NULL,
    PRIMARY KEY (iccid, hour)
);
CREATE INDEX usage_hourly_hour ON usage_hourly USING brin (hour);

-- Pool usage by hour of the cards that were members when their usage arrived.
CREATE TABLE pool_usage_hourly (
    pool_id text NOT NULL,
    hour    timestamptz NOT NULL,
    bytes   bigint NOT NULL,
    PRIMARY KEY (pool_id, hour)
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        PERFORM create_hypertable('usage_hourly', 'hour', chunk_time_interval => interval '7 days',
                                  migrate_data => true);
        PERFORM create_hypertable('pool_usage_hourly', 'hour',
                                  chunk_time_interval => interval '30 days', migrate_data => true);
        ALTER TABLE usage_hourly SET (timescaledb.compress,
                                      timescaledb.compress_segmentby = 'iccid');
        PERFORM add_compression_policy('usage_hourly', interval '14 days');
        PERFORM add_retention_policy('usage_hourly', interval '400 days');
        EXECUTE $v$
            CREATE MATERIALIZED VIEW usage_daily WITH (timescaledb.continuous) AS
            SELECT iccid, time_bucket(interval '1 day', hour, 'Asia/Shanghai') AS day,
                   sum(bytes)::bigint AS bytes, sum(records)::bigint AS records
            FROM usage_hourly GROUP BY iccid, time_bucket(interval '1 day', hour, 'Asia/Shanghai')
            WITH NO DATA $v$;
        PERFORM add_continuous_aggregate_policy('usage_daily', start_offset => interval '3 days',
                                                end_offset => interval '1 hour',
                                                schedule_interval => interval '15 minutes');
        EXECUTE $v$
            CREATE MATERIALIZED VIEW pool_usage_daily WITH (timescaledb.continuous) AS
            SELECT pool_id, time_bucket(interval '1 day', hour, 'Asia/Shanghai') AS day,
                   sum(bytes)::bigint AS bytes
            FROM pool_usage_hourly
            GROUP BY pool_id, time_bucket(interval '1 day', hour, 'Asia/Shanghai')
            WITH NO DATA $v$;
        PERFORM add_continuous_aggregate_policy('pool_usage_daily',
                                                start_offset => interval '3 days',
                                                end_offset => interval '1 hour',
                                                schedule_interval => interval '15 minutes');
    ELSE
        CREATE VIEW usage_daily AS
            SELECT iccid, date_trunc('day', hour, 'Asia/Shanghai') AS day,
                   sum(bytes)::bigint AS bytes, sum(records)::bigint AS records
            FROM usage_hourly GROUP BY iccid, date_trunc('day', hour, 'Asia/Shanghai');
        CREATE VIEW pool_usage_daily AS
            SELECT pool_id, date_trunc('day', hour, 'Asia/Shanghai') AS day,
                   sum(bytes)::bigint AS bytes
            FROM pool_usage_hourly GROUP BY pool_id, date_trunc('day', hour, 'Asia/Shanghai');
    END IF;
END $$;
