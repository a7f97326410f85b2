-- Delivery reminders on the webhook channel (X-04, I-20): a delivery tenant's webhook (URL and
-- signing secret), and each webhook reminder's delivery state — sent signed, retried with
-- backoff, `outcome` delivered | retrying | failed | no_webhook (the receiver's tenant has none).
-- depends: 0200_delivery

ALTER TABLE dl_tenants ADD COLUMN webhook_url text
    CHECK (webhook_url IS NULL OR webhook_url ~ '^https?://');
ALTER TABLE dl_tenants ADD COLUMN webhook_secret text;

ALTER TABLE dl_notifications ADD COLUMN attempts int NOT NULL DEFAULT 0;
ALTER TABLE dl_notifications ADD COLUMN next_attempt timestamptz;
ALTER TABLE dl_notifications ADD COLUMN last_error text;
CREATE INDEX dl_notifications_webhook_due ON dl_notifications (next_attempt NULLS FIRST)
    WHERE channel = 'webhook' AND outcome IN ('recorded', 'retrying');
