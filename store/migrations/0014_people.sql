-- People who log in (issue 15): users with a login, an argon2 password hash, a role and a
-- tenant, and their sessions. API keys stay for machines. Times read the platform clock.
-- depends: 0013_operator_reality

CREATE TABLE users (
    user_id              text PRIMARY KEY,
    login                text NOT NULL UNIQUE CHECK (login ~ '^[A-Za-z0-9._@-]{3,64}$'),
    password_hash        text NOT NULL,
    role                 text NOT NULL CHECK (role IN ('admin', 'platform_ops',
                                                       'enterprise_admin', 'enterprise_viewer')),
    enterprise_id        text REFERENCES enterprises ON DELETE CASCADE,
    must_change_password boolean NOT NULL DEFAULT true,
    failed_logins        int NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT cp_now(),
    -- platform roles have no tenant, enterprise roles exactly one
    CONSTRAINT users_tenant CHECK ((role IN ('admin', 'platform_ops')) = (enterprise_id IS NULL))
);
CREATE INDEX users_enterprise ON users (enterprise_id);

-- A session is known by the SHA-256 of its cookie value; the CSRF token travels in a header.
CREATE TABLE sessions (
    session_hash bytea PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT cp_now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
