-- When a card's desired state last changed (for a usage-caused change: when the deciding usage
-- was accepted), so the controls can measure end-to-end enforcement latency.
-- depends: 0004_series
ALTER TABLE cards ADD COLUMN desired_at timestamptz;
ALTER TABLE pools ADD COLUMN state_at timestamptz;
