-- Staff accounts of the web console: password (argon2id) and TOTP second
-- factor, role, lockout; their sessions; and the append-only log of what each
-- account did.
CREATE TABLE IF NOT EXISTS staff_accounts (
    id              bigserial PRIMARY KEY,
    login           text        NOT NULL UNIQUE CHECK (login = lower(login) AND login <> ''),
    display_name    text        NOT NULL DEFAULT '',
    role            text        NOT NULL CHECK (role IN ('agent', 'operator', 'approver', 'auditor', 'admin')),
    password_hash   text        NOT NULL,                 -- $argon2id$v=19$m=…,t=…,p=…$salt$hash
    totp_secret     text        NOT NULL,                 -- base32
    totp_last_step  bigint      NOT NULL DEFAULT 0,       -- last accepted TOTP time step: no code replay
    failed_logins   integer     NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    disabled_at     timestamptz,
    created_by      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz
);

CREATE TABLE IF NOT EXISTS staff_sessions (
    token_hash   bytea       PRIMARY KEY,                 -- SHA-256 of the cookie's token
    account_id   bigint      NOT NULL REFERENCES staff_accounts (id),
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,                    -- absolute expiry
    ended_at     timestamptz                              -- logout
);
CREATE INDEX IF NOT EXISTS staff_sessions_account_idx ON staff_sessions (account_id);

CREATE TABLE IF NOT EXISTS staff_actions (
    id          bigserial PRIMARY KEY,
    account_id  bigint      REFERENCES staff_accounts (id), -- null: unknown login (failed attempt)
    login       text        NOT NULL,
    action      text        NOT NULL,                     -- login, login_failed, logout, campaign_approve, send_notice, …
    target      text        NOT NULL DEFAULT '',          -- "campaign:12", "recipient:34" (ids, never personal data)
    detail      text        NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS staff_actions_account_idx ON staff_actions (account_id, id);

CREATE OR REPLACE FUNCTION courrier_staff_actions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on staff_actions is refused: the table is append-only', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP TRIGGER IF EXISTS staff_actions_append_only ON staff_actions;
CREATE TRIGGER staff_actions_append_only BEFORE UPDATE OR DELETE ON staff_actions
    FOR EACH ROW EXECUTE FUNCTION courrier_staff_actions_refuse_change();
