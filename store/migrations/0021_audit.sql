-- The audit trail of every business state transition (shared/specs/business.md C-08): who (and
-- in which role) moved what from which state to which, when on the platform clock, why, and
-- under which request. Rows are never changed; flow logs and explanations are views of them.
-- depends: 0020_ledger

CREATE TABLE audit_events (
    event_id     bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT cp_now(),
    actor        text NOT NULL,
    actor_role   text NOT NULL,
    subject_kind text NOT NULL,
    subject_id   text NOT NULL,
    from_state   text,
    to_state     text NOT NULL,
    reason       text,
    request_id   text,
    data         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_subject ON audit_events (subject_kind, subject_id, event_id);

CREATE FUNCTION audit_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are never changed or deleted';
END $$;
CREATE TRIGGER audit_events_immutable BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_immutable();
