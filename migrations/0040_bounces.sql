-- Bounces (issue 13): the relay's final reply on each accepted email, the
-- quiet-period presumption, soft-bounce counting, suspended addresses, and
-- the IMAP messages already recorded (so a crash between recording and
-- flagging never records twice).

ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS relay_reply text NOT NULL DEFAULT '';  -- e.g. 250 2.0.0 Ok: queued as 4Xyz
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS presumed_at timestamptz;              -- presumed_delivered event written
CREATE INDEX IF NOT EXISTS deliveries_presume_idx ON deliveries (final_at)
    WHERE provider = 'smtp' AND state = 'delivered' AND presumed_at IS NULL;

ALTER TABLE recipients DROP CONSTRAINT IF EXISTS recipients_email_status_check;
ALTER TABLE recipients ADD CONSTRAINT recipients_email_status_check
    CHECK (email_status IN ('ok', 'undeliverable', 'suspended'));

CREATE TABLE IF NOT EXISTS email_soft_bounces (
    delivery_id  bigint      PRIMARY KEY REFERENCES deliveries (id),
    recipient_id bigint      NOT NULL REFERENCES recipients (id),
    occurred_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS email_soft_bounces_recipient_idx ON email_soft_bounces (recipient_id, occurred_at);

CREATE TABLE IF NOT EXISTS bounce_imap_seen (
    mailbox      text        NOT NULL,
    uid_validity bigint      NOT NULL,
    uid          bigint      NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox, uid_validity, uid)
);
