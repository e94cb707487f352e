-- Letters: PDF letters waiting for the print house, the daily print batches
-- that carry them, the receipt files read back, and the postal address
-- status that returned mail sets.

CREATE TABLE IF NOT EXISTS print_batches (
    id              text        PRIMARY KEY,                 -- "B20261204-160000"
    cutoff_at       timestamptz NOT NULL,
    state           text        NOT NULL DEFAULT 'building'
                    CHECK (state IN ('building', 'built', 'handed')),
    print_house     text        NOT NULL DEFAULT '',
    letters         integer     NOT NULL DEFAULT 0,
    pages           integer     NOT NULL DEFAULT 0,
    sheets          integer     NOT NULL DEFAULT 0,
    manifest_sha256 text        NOT NULL DEFAULT '',         -- of manifest.json
    created_at      timestamptz NOT NULL DEFAULT now(),
    built_at        timestamptz,
    handed_at       timestamptz
);

CREATE TABLE IF NOT EXISTS letters (
    delivery_id  bigint      PRIMARY KEY REFERENCES deliveries (id), -- letter "L" + delivery id
    notice_id    bigint      NOT NULL REFERENCES notices (id),
    postage      text        NOT NULL CHECK (postage IN ('lettre_verte', 'lettre_prioritaire', 'lettre_recommandee')),
    pages        integer     NOT NULL,
    sheets       integer     NOT NULL,
    pdf_sha256   text        NOT NULL,                       -- kept for ever, like deliveries.content_hash
    pdf_path     text        NOT NULL DEFAULT '',            -- spool file until the batch is handed
    letter_date  timestamptz NOT NULL,                       -- the date printed, and the PDF's creation date
    sender       jsonb       NOT NULL DEFAULT '{}',          -- letterhead used (for ReproducePDF)
    state        text        NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'batched', 'handed', 'printed', 'posted', 'returned')),
    batch_id     text        REFERENCES print_batches (id),
    batch_file   text        NOT NULL DEFAULT '',
    first_page   integer     NOT NULL DEFAULT 0,             -- in batch_file
    printed_at   timestamptz,
    posted_at    timestamptz,
    returned_at  timestamptz,
    return_reason text       NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS letters_queued_idx ON letters (created_at) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS letters_batch_idx ON letters (batch_id, postage, delivery_id);
CREATE INDEX IF NOT EXISTS letters_notice_idx ON letters (notice_id);

-- Each receipt file is read once: a second copy of the same bytes is a
-- duplicate and changes nothing.
CREATE TABLE IF NOT EXISTS print_receipt_files (
    sha256      text        PRIMARY KEY,
    name        text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('ack', 'returned')),
    rows        integer     NOT NULL DEFAULT 0,
    applied     integer     NOT NULL DEFAULT 0,
    unknown     integer     NOT NULL DEFAULT 0,
    ingested_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE recipients ADD COLUMN IF NOT EXISTS address_status text NOT NULL DEFAULT 'ok'
    CHECK (address_status IN ('ok', 'undeliverable'));

ALTER TABLE recipient_events DROP CONSTRAINT IF EXISTS recipient_events_event_check;
ALTER TABLE recipient_events ADD CONSTRAINT recipient_events_event_check CHECK (event IN (
    'sms_consent_withdrawn', 'sms_consent_restored', 'email_undeliverable', 'phone_undeliverable',
    'unsubscribed', 'address_undeliverable'));
