-- Delivery reminders by email (X-04, I-20): a person's address (`users.email`, set by an
-- administrator at creation or by the person from the inbox), and an 'email' row in
-- `dl_notifications` for each reminder of a person who has one — sent over SMTP by the
-- worker's leader, retried with backoff; `outcome` delivered | retrying | failed | no_smtp
-- (no relay configured: CARDPULSE_SMTP_URL) | no_email (the address was removed before it went).
-- depends: 0208_delivery_cards

ALTER TABLE users ADD COLUMN email text
    CHECK (email IS NULL OR (length(email) <= 254 AND email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'));

ALTER TABLE dl_notifications DROP CONSTRAINT dl_notifications_channel_check;
ALTER TABLE dl_notifications ADD CONSTRAINT dl_notifications_channel_check
    CHECK (channel IN ('inbox', 'webhook', 'email'));
CREATE INDEX dl_notifications_email_due ON dl_notifications (next_attempt NULLS FIRST)
    WHERE channel = 'email' AND outcome IN ('recorded', 'retrying');
