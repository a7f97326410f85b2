-- The double-entry ledger in integer fen (shared/specs/business.md G2-21…G2-25; design notes in
-- store/ledger.py). Accounts keep TigerBeetle's four running totals; transfers are immutable
-- and keyed by a caller-chosen id; posted money is also written as one entry per leg with the
-- account's balance after it. The database itself guards every invariant, so that no code path
-- (nor a hand-typed statement) can break them:
--   * the legs of every transfer sum to 0 (deferred constraint trigger, checked at COMMIT);
--   * an account's kind and floor follow from its key; it opens with all totals 0, and they
--     move only through entries and holds (triggers), never by a direct UPDATE;
--   * an account with floor `must_not_go_negative` is not taken below 0 (posted − pending
--     debits) by a debit or a hold, unless the transfer carries `allow_negative` (G2-16
--     clawbacks) or posts a hold (whose amount was reserved before);
--   * transfers and entries are never updated or deleted, except the one state change of a hold
--     (pending → posted | voided), made by inserting its post or void transfer.
-- Balance convention: balance = credits − debits, so money owed to a wallet is positive, the
-- outside world (`external:…`) is negative, and the sum over all accounts is always 0.
-- depends: 0014_people

-- Ledger time: the platform clock (cp_now) read when the row is written, not when the
-- transaction began, so that the entries of one account are in time order as in id order
-- (they are written under the account's row lock).
CREATE FUNCTION ledger_now() RETURNS timestamptz LANGUAGE sql VOLATILE AS $$
    SELECT clock_timestamp() + make_interval(secs => (SELECT offset_seconds FROM platform_clock))
$$;

-- The kind of account a key names, NULL for a key outside G2-22 (domain.ledger.account_kind;
-- property-tested against it in tests/integration/test_ledger.py).
CREATE FUNCTION ledger_account_kind(account text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN account = 'platform:revenue' THEN 'platform_revenue'
        WHEN account = 'external:payment_channel' THEN 'payment_channel'
        WHEN account ~ '^wallet:89[0-9A-F]{17,18}$' THEN 'card_wallet'
        ELSE (SELECT m[1] || '_' || m[2]
              FROM regexp_match(account, '^([a-z]+):[A-Za-z0-9][A-Za-z0-9._-]{0,63}:([a-z_]+)$')
                   AS found (m)
              WHERE (m[1], m[2]) IN (('agent', 'available'), ('agent', 'commission_frozen'),
                                     ('agent', 'withdrawing'), ('enterprise', 'wallet'),
                                     ('enterprise', 'alipay'), ('order', 'escrow'),
                                     ('supplier', 'fund'), ('factory', 'settlement')))
    END
$$;

-- The floor of a kind of account (domain.ledger.accounts.KINDS): money the platform holds for
-- someone must not go negative; the outside world and revenue have no floor.
CREATE FUNCTION ledger_kind_floor(kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN kind IN ('platform_revenue', 'payment_channel', 'enterprise_alipay',
                              'factory_settlement') THEN 'none'
                WHEN kind IS NOT NULL THEN 'must_not_go_negative' END
$$;

CREATE TABLE ledger_accounts (
    account         text PRIMARY KEY,
    kind            text NOT NULL,
    floor           text NOT NULL,
    debits_posted   bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_posted  bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_pending  bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    created_at      timestamptz NOT NULL DEFAULT cp_now(),
    CONSTRAINT ledger_accounts_kind_of_key CHECK (kind = ledger_account_kind(account)),
    CONSTRAINT ledger_accounts_floor_of_kind CHECK (floor = ledger_kind_floor(kind))
);
CREATE INDEX ledger_accounts_kind ON ledger_accounts (kind);

CREATE TABLE ledger_transfers (
    transfer_id    text PRIMARY KEY CHECK (length(transfer_id) BETWEEN 1 AND 128),
    debit_account  text NOT NULL REFERENCES ledger_accounts,
    credit_account text NOT NULL REFERENCES ledger_accounts,
    amount         bigint NOT NULL CHECK (amount > 0),
    -- single: posted at once; pending: a hold; post_pending / void_pending: resolve a hold
    phase          text NOT NULL CHECK (phase IN ('single', 'pending', 'post_pending',
                                                  'void_pending')),
    -- posted | voided for good; a hold is pending until its post or void moves it on
    state          text NOT NULL CHECK (state IN ('posted', 'pending', 'voided')),
    pending_id     text REFERENCES ledger_transfers,
    fee_type       text NOT NULL CHECK (fee_type IN (
                       'retail', 'cost', 'price_difference', 'commission', 'refund',
                       'withdrawal', 'withdrawal_fee', 'deduction', 'payout',
                       'factory_commission', 'recharge')),
    order_id       text,
    order_line     text,
    reverses       text REFERENCES ledger_transfers,
    allow_negative boolean NOT NULL DEFAULT false,
    content_hash   text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT cp_now(),
    CONSTRAINT ledger_transfers_two_accounts CHECK (debit_account <> credit_account),
    CONSTRAINT ledger_transfers_phase_state CHECK (
        (phase = 'single' AND state = 'posted')
        OR (phase = 'pending' AND state IN ('pending', 'posted', 'voided'))
        OR (phase = 'post_pending' AND state = 'posted')
        OR (phase = 'void_pending' AND state = 'voided')),
    CONSTRAINT ledger_transfers_resolves_a_hold CHECK (
        (pending_id IS NOT NULL) = (phase IN ('post_pending', 'void_pending'))),
    -- a hold reserves against the floor; only a refund or commission clawback (or a reversal)
    -- may take a floored account below 0 (G2-16)
    CONSTRAINT ledger_transfers_negative_only_for_clawbacks CHECK (
        NOT allow_negative OR (phase = 'single'
                               AND (fee_type IN ('refund', 'commission') OR reverses IS NOT NULL)))
);
CREATE UNIQUE INDEX ledger_transfers_one_resolution ON ledger_transfers (pending_id)
    WHERE pending_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_transfers_one_reversal ON ledger_transfers (reverses)
    WHERE reverses IS NOT NULL;
CREATE INDEX ledger_transfers_order ON ledger_transfers (order_id, order_line)
    WHERE order_id IS NOT NULL;

-- One row per leg of posted money: amount > 0 credits the account, < 0 debits it.
CREATE TABLE ledger_entries (
    entry_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transfer_id   text NOT NULL REFERENCES ledger_transfers,
    account       text NOT NULL REFERENCES ledger_accounts,
    amount        bigint NOT NULL CHECK (amount <> 0),
    balance_after bigint NOT NULL,  -- set by ledger_apply_entry, whatever the writer sent
    created_at    timestamptz NOT NULL DEFAULT ledger_now(),
    UNIQUE (transfer_id, account)
);
CREATE INDEX ledger_entries_account ON ledger_entries (account, entry_id);
CREATE INDEX ledger_entries_account_time ON ledger_entries (account, created_at);

-- Refuse an account opened with totals, and a change of totals made by a statement (as opposed
-- to by the ledger's own triggers, which run one trigger level deeper).
CREATE FUNCTION ledger_guard_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF (NEW.debits_posted, NEW.credits_posted, NEW.debits_pending, NEW.credits_pending)
                <> (0, 0, 0, 0) THEN
            RAISE EXCEPTION 'ledger account % opens with all totals 0', NEW.account
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger accounts are never deleted (%)', OLD.account
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF pg_trigger_depth() = 1 AND (NEW.debits_posted, NEW.credits_posted, NEW.debits_pending,
            NEW.credits_pending, NEW.account, NEW.floor, NEW.kind)
            IS DISTINCT FROM (OLD.debits_posted, OLD.credits_posted, OLD.debits_pending,
            OLD.credits_pending, OLD.account, OLD.floor, OLD.kind) THEN
        RAISE EXCEPTION 'ledger account % changes only through transfers', OLD.account
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_accounts_guard BEFORE INSERT OR UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_guard_account();

-- Whether an account with this floor may stand at these totals.
CREATE FUNCTION ledger_within_floor(a ledger_accounts) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT a.floor <> 'must_not_go_negative'
        OR a.credits_posted - a.debits_posted - a.debits_pending >= 0
$$;

-- Apply a leg to its account (under the row lock the UPDATE takes), stamp the balance after it,
-- and refuse a debit that leaves the account below its floor unless the transfer allows it or
-- posts a hold (whose amount was reserved: the account may have been overdrawn since by a
-- clawback, and posting must still settle what was promised).
CREATE FUNCTION ledger_apply_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved ledger_accounts;
    allowed boolean;
BEGIN
    UPDATE ledger_accounts
       SET debits_posted = debits_posted + greatest(-NEW.amount, 0),
           credits_posted = credits_posted + greatest(NEW.amount, 0)
     WHERE account = NEW.account
    RETURNING * INTO moved;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no ledger account %', NEW.account USING ERRCODE = 'foreign_key_violation';
    END IF;
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
CREATE TRIGGER ledger_entries_apply BEFORE INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_apply_entry();

-- Move the pending totals of a hold's two accounts by `sign` × amount.
CREATE FUNCTION ledger_move_pending(t ledger_transfers, sign int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    moved ledger_accounts;
BEGIN
    UPDATE ledger_accounts SET debits_pending = debits_pending + sign * t.amount
     WHERE account = t.debit_account RETURNING * INTO moved;
    IF sign > 0 AND NOT ledger_within_floor(moved) THEN
        RAISE EXCEPTION 'ledger account % would go below its floor', t.debit_account
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_floor';
    END IF;
    UPDATE ledger_accounts SET credits_pending = credits_pending + sign * t.amount
     WHERE account = t.credit_account;
END $$;

-- A new transfer: a hold reserves its amount; a post or void must resolve an open hold between
-- the same accounts (a post for at most its amount, a void for exactly it) and closes it, which
-- releases the reservation; a reversal mirrors posted money (same amount, accounts swapped).
CREATE FUNCTION ledger_insert_transfer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    hold ledger_transfers;
BEGIN
    IF NEW.phase = 'pending' THEN
        IF NEW.state <> 'pending' THEN
            RAISE EXCEPTION 'a hold starts pending' USING ERRCODE = 'check_violation';
        END IF;
        PERFORM ledger_move_pending(NEW, 1);
    ELSIF NEW.phase IN ('post_pending', 'void_pending') THEN
        SELECT * INTO hold FROM ledger_transfers WHERE transfer_id = NEW.pending_id FOR UPDATE;
        IF NOT FOUND OR hold.phase <> 'pending' OR hold.state <> 'pending'
                OR (hold.debit_account, hold.credit_account)
                   IS DISTINCT FROM (NEW.debit_account, NEW.credit_account)
                OR NEW.amount > hold.amount
                OR (NEW.phase = 'void_pending' AND NEW.amount <> hold.amount) THEN
            RAISE EXCEPTION 'transfer % does not resolve an open hold %', NEW.transfer_id,
                NEW.pending_id USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_hold';
        END IF;
        UPDATE ledger_transfers
           SET state = CASE NEW.phase WHEN 'post_pending' THEN 'posted' ELSE 'voided' END
         WHERE transfer_id = NEW.pending_id;
    END IF;
    IF NEW.reverses IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM ledger_transfers o WHERE o.transfer_id = NEW.reverses
               AND o.phase IN ('single', 'post_pending') AND o.amount = NEW.amount
               AND (o.debit_account, o.credit_account) = (NEW.credit_account, NEW.debit_account))
            OR (NEW.reverses IS NOT NULL AND NEW.phase <> 'single') THEN
        RAISE EXCEPTION 'transfer % does not mirror the posted transfer % it reverses',
            NEW.transfer_id, NEW.reverses USING ERRCODE = 'check_violation',
            CONSTRAINT = 'ledger_reversal';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_transfers_insert AFTER INSERT ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_insert_transfer();

-- Transfers are immutable but for a hold's one state change, made by the trigger above.
CREATE FUNCTION ledger_guard_transfer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 AND OLD.phase = 'pending'
            AND OLD.state = 'pending' AND NEW.state IN ('posted', 'voided')
            AND (to_jsonb(NEW) - 'state') = (to_jsonb(OLD) - 'state') THEN
        PERFORM ledger_move_pending(OLD, -1);
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger transfers are immutable (%): correct with a reversing transfer',
        OLD.transfer_id USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_transfers_guard BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_guard_transfer();

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_entries_guard BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Hordak's check, at COMMIT: a transfer that moves posted money (single, post_pending) has
-- exactly two legs, the debit of its debit account and the credit of its credit account, summing
-- to 0; a hold or a void has none.
CREATE FUNCTION ledger_check_legs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t ledger_transfers;
    legs int;
    total bigint;
    debited bigint;
    credited bigint;
BEGIN
    SELECT * INTO t FROM ledger_transfers WHERE transfer_id = NEW.transfer_id;
    SELECT count(*), coalesce(sum(amount), 0),
           coalesce(sum(amount) FILTER (WHERE account = t.debit_account), 0),
           coalesce(sum(amount) FILTER (WHERE account = t.credit_account), 0)
      INTO legs, total, debited, credited
      FROM ledger_entries WHERE transfer_id = NEW.transfer_id;
    IF t.phase IN ('single', 'post_pending') THEN
        IF legs = 2 AND total = 0 AND debited = -t.amount AND credited = t.amount THEN
            RETURN NULL;
        END IF;
    ELSIF legs = 0 THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'ledger transfer % is unbalanced: % legs summing to %', NEW.transfer_id,
        legs, total USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_zero_sum';
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_zero_sum AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_legs();
CREATE CONSTRAINT TRIGGER ledger_transfers_zero_sum AFTER INSERT ON ledger_transfers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_legs();
