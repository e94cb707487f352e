-- A CSV file uploaded in the console is checked first (dry run, per-row
-- errors shown) and imported only when the agent confirms: it waits here
-- in between, for its uploader only, and is deleted once imported or after
-- a day (console.PurgeUploads).
CREATE TABLE IF NOT EXISTS console_uploads (
    token_hash  bytea       PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES staff_accounts (id),
    filename    text        NOT NULL DEFAULT '',
    content     bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
