-- Speed (BENCHMARKS.md "Package orders with the ledger"): an account with no floor
-- (`platform:revenue`, `external:payment_channel`, `enterprise:*:alipay`, `factory:*:settlement`)
-- is never locked nor updated. Nothing can refuse a movement of it, so nothing needs its current
-- totals under a lock: its legs are appended to `ledger_account_moves` (one row per leg or hold
-- change, never updated), and its totals are its `ledger_accounts` row (all 0, as opened) plus
-- the sum of its moves. Every transaction that used to queue on the revenue or payment-channel
-- row now only appends.
-- * `ledger_balances`: every account's four totals, whatever its floor (what `store.ledger`
--   reads for a balance and the trial balance).
-- * `ledger_entries.balance_after` is the running balance of a floored account (stamped under
--   its row lock, as before); for an account with no floor there is no order between
--   concurrent appends to stamp it in, so it is NULL and a statement's opening balance is the
--   sum of the entries before the period.
-- depends: 0060_fulfilment

CREATE TABLE ledger_account_moves (
    move_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account         text NOT NULL,  -- an account of ledger_accounts (written by its triggers)
    debits_posted   bigint NOT NULL DEFAULT 0,
    credits_posted  bigint NOT NULL DEFAULT 0,
    debits_pending  bigint NOT NULL DEFAULT 0,
    credits_pending bigint NOT NULL DEFAULT 0
);
CREATE INDEX ledger_account_moves_account ON ledger_account_moves (account);

-- Only the ledger's triggers append moves (one trigger level deeper than a statement).
CREATE FUNCTION ledger_guard_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND pg_trigger_depth() > 1 THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger account moves are written by transfers only'
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_account_moves_guard BEFORE INSERT OR UPDATE OR DELETE
    ON ledger_account_moves FOR EACH ROW EXECUTE FUNCTION ledger_guard_move();
CREATE TRIGGER ledger_account_moves_no_truncate BEFORE TRUNCATE ON ledger_account_moves
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE VIEW ledger_balances AS
SELECT a.account, a.kind, a.floor,
       a.debits_posted + coalesce(m.debits_posted, 0) AS debits_posted,
       a.credits_posted + coalesce(m.credits_posted, 0) AS credits_posted,
       a.debits_pending + coalesce(m.debits_pending, 0) AS debits_pending,
       a.credits_pending + coalesce(m.credits_pending, 0) AS credits_pending
FROM ledger_accounts a
LEFT JOIN LATERAL (
    SELECT sum(x.debits_posted) AS debits_posted, sum(x.credits_posted) AS credits_posted,
           sum(x.debits_pending) AS debits_pending, sum(x.credits_pending) AS credits_pending
    FROM ledger_account_moves x WHERE x.account = a.account AND a.floor = 'none'
) m ON true;

ALTER TABLE ledger_entries ALTER COLUMN balance_after DROP NOT NULL;

-- As in 0020, but an account with no floor gets a move appended instead of its row updated.
CREATE OR REPLACE FUNCTION ledger_apply_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved ledger_accounts;
    allowed boolean;
    account_floor text;
BEGIN
    SELECT floor INTO account_floor FROM ledger_accounts WHERE account = NEW.account;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no ledger account %', NEW.account USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF account_floor = 'none' THEN
        INSERT INTO ledger_account_moves (account, debits_posted, credits_posted)
        VALUES (NEW.account, greatest(-NEW.amount, 0), greatest(NEW.amount, 0));
        NEW.balance_after := NULL;
        RETURN NEW;
    END IF;
    UPDATE ledger_accounts
       SET debits_posted = debits_posted + greatest(-NEW.amount, 0),
           credits_posted = credits_posted + greatest(NEW.amount, 0)
     WHERE account = NEW.account
    RETURNING * INTO moved;
    NEW.balance_after := moved.credits_posted - moved.debits_posted;
    IF NEW.amount < 0 AND NOT ledger_within_floor(moved) THEN
        -- a post takes what its hold reserved: it leaves the available balance as it was
        SELECT allow_negative OR phase = 'post_pending' INTO allowed FROM ledger_transfers
         WHERE transfer_id = NEW.transfer_id;
        IF NOT coalesce(allowed, false) THEN
            RAISE EXCEPTION 'ledger account % would go below its floor', NEW.account
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_floor';
        END IF;
    END IF;
    RETURN NEW;
END $$;

-- As in 0020, with the same difference for the pending totals.
CREATE OR REPLACE FUNCTION ledger_move_pending(t ledger_transfers, sign int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    moved ledger_accounts;
BEGIN
    IF (SELECT floor FROM ledger_accounts WHERE account = t.debit_account) = 'none' THEN
        INSERT INTO ledger_account_moves (account, debits_pending)
        VALUES (t.debit_account, sign * t.amount);
    ELSE
        UPDATE ledger_accounts SET debits_pending = debits_pending + sign * t.amount
         WHERE account = t.debit_account RETURNING * INTO moved;
        IF sign > 0 AND NOT ledger_within_floor(moved) THEN
            RAISE EXCEPTION 'ledger account % would go below its floor', t.debit_account
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_floor';
        END IF;
    END IF;
    IF (SELECT floor FROM ledger_accounts WHERE account = t.credit_account) = 'none' THEN
        INSERT INTO ledger_account_moves (account, credits_pending)
        VALUES (t.credit_account, sign * t.amount);
    ELSE
        UPDATE ledger_accounts SET credits_pending = credits_pending + sign * t.amount
         WHERE account = t.credit_account;
    END IF;
END $$;
