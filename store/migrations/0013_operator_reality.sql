-- Operators as they really are (issue 14): the number each operator knows a card by, changes
-- an operator accepted but has not yet confirmed, and the close of polled cycles.
-- depends: 0012_rule_functions

-- The MSISDN (OneLink, Jasper/Unicom) or access number (China Telecom); unique per operator.
ALTER TABLE cards ADD COLUMN msisdn text CONSTRAINT cards_msisdn_digits
    CHECK (msisdn ~ '^[0-9]{11,15}$');
CREATE UNIQUE INDEX cards_operator_msisdn ON cards (operator, msisdn) WHERE msisdn IS NOT NULL;

-- `confirming`: the operator accepted a change as an order or job; `ticket` is what to track
-- it by (a OneLink order number). `last_command_at` is when it was submitted. `in_flight` is
-- the target of an accepted change not yet confirmed, kept while the card waits to be sent
-- the other way: until it is confirmed the network status cannot be trusted.
ALTER TABLE card_control DROP CONSTRAINT card_control_state_check;
ALTER TABLE card_control ADD CONSTRAINT card_control_state_check
    CHECK (state IN ('pending', 'confirming', 'done', 'failed'));
ALTER TABLE card_control ADD COLUMN ticket text,
    ADD COLUMN in_flight text CHECK (in_flight IN ('active', 'stopped'));
DROP INDEX card_control_due;
CREATE INDEX card_control_due ON card_control (next_attempt)
    WHERE state IN ('pending', 'confirming');
-- The reconciler reads every change in flight each round (few at a time).
CREATE INDEX card_control_in_flight ON card_control (iccid) WHERE in_flight IS NOT NULL;

-- When a polled cycle's total was read from the operator's closed-cycle call (month close).
ALTER TABLE usage_snapshots ADD COLUMN closed_at timestamptz;
