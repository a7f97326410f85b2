-- Security: platform-wide keys, push secret rotation, replay protection for signed pushes.
-- depends: 0005_enforcement_times

ALTER TABLE api_keys ALTER COLUMN enterprise_id DROP NOT NULL;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (
    (role IN ('enterprise_admin', 'enterprise_viewer') AND enterprise_id IS NOT NULL)
    OR (role = 'platform_ops' AND enterprise_id IS NULL));

-- Rotation without downtime: the previous secret stays valid until `previous_until`.
ALTER TABLE operator_secrets
    ADD COLUMN previous_secret text,
    ADD COLUMN previous_until  timestamptz;

-- Signatures of accepted pushes, kept for the replay window: the same signed request twice
-- is refused.
CREATE TABLE push_signatures (
    signature text PRIMARY KEY,
    seen_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_signatures_seen ON push_signatures (seen_at);
