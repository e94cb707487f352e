-- courrier foundation schema: beneficiaries, notices, deliveries and the
-- append-only delivery ledger. Later changes come as new migrations.

CREATE TABLE recipients (
    id               bigserial PRIMARY KEY,
    ref              text        NOT NULL UNIQUE,           -- beneficiary number ("numéro allocataire")
    civility         text        NOT NULL DEFAULT '' CHECK (civility IN ('', 'M.', 'Mme')),
    given_name       text        NOT NULL DEFAULT '',
    family_name      text        NOT NULL DEFAULT '',
    email            text,                                  -- validated, lower-cased domain
    email_status     text        NOT NULL DEFAULT 'ok' CHECK (email_status IN ('ok', 'undeliverable')),
    phone            text,                                  -- E.164
    phone_type       text        NOT NULL DEFAULT 'mobile' CHECK (phone_type IN ('mobile', 'landline', 'other')),
    phone_status     text        NOT NULL DEFAULT 'ok' CHECK (phone_status IN ('ok', 'undeliverable')),
    address_line1    text        NOT NULL DEFAULT '',
    address_line2    text        NOT NULL DEFAULT '',
    postal_code      text        NOT NULL DEFAULT '',
    city             text        NOT NULL DEFAULT '',
    country          text        NOT NULL DEFAULT 'FR',
    language         text        NOT NULL DEFAULT 'fr',
    consent_email    boolean     NOT NULL DEFAULT true,
    consent_sms      boolean     NOT NULL DEFAULT true,
    consent_letter   boolean     NOT NULL DEFAULT true,
    outreach_opt_out boolean     NOT NULL DEFAULT false,    -- no life-event outreach / general marketing
    benefits         text[]      NOT NULL DEFAULT '{}',     -- benefit codes held (e.g. RSA, AF, APL)
    active           boolean     NOT NULL DEFAULT true,
    joined_at        timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notices (
    id               bigserial PRIMARY KEY,
    recipient_id     bigint      NOT NULL REFERENCES recipients (id),
    kind             text        NOT NULL,
    template_key     text        NOT NULL,
    data             jsonb       NOT NULL DEFAULT '{}',
    idempotency_key  text        NOT NULL UNIQUE,
    due_by           timestamptz,
    state            text        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'sent', 'delivered', 'failed', 'no_route', 'cancelled')),
    state_reason     text        NOT NULL DEFAULT '',
    channel          text        NOT NULL DEFAULT '',       -- channel that satisfied the notice
    test             boolean     NOT NULL DEFAULT false,    -- created with a test key: outbox only
    created_by       text        NOT NULL DEFAULT '',       -- api key id / operator / system component
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    delivered_at     timestamptz
);
CREATE INDEX notices_recipient_kind_idx ON notices (recipient_id, kind, created_at);
CREATE INDEX notices_state_idx ON notices (state) WHERE state IN ('pending', 'sending', 'sent');

CREATE TABLE deliveries (
    id                  bigserial PRIMARY KEY,
    notice_id           bigint      NOT NULL REFERENCES notices (id),
    channel             text        NOT NULL,               -- email, sms, letter
    provider            text        NOT NULL,               -- smtp, twilio, outbox, print
    address             text        NOT NULL DEFAULT '',    -- address used (purged after retention)
    template_version    text        NOT NULL DEFAULT '',
    content             jsonb,                              -- rendered subject/text/html (purged after retention)
    content_hash        text        NOT NULL DEFAULT '',    -- SHA-256 of the rendered content, kept forever
    provider_message_id text,
    state               text        NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'sent', 'delivered', 'undelivered', 'bounced', 'failed', 'unknown')),
    attempt             integer     NOT NULL DEFAULT 0,
    error_code          text        NOT NULL DEFAULT '',
    error               text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    sending_at          timestamptz,
    sent_at             timestamptz,
    final_at            timestamptz,
    UNIQUE (notice_id, channel)
);
CREATE UNIQUE INDEX deliveries_provider_message_idx ON deliveries (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX deliveries_open_idx ON deliveries (state, sent_at) WHERE state IN ('sending', 'sent');

-- delivery_events is the ledger: one row per status change, never updated or deleted.
CREATE TABLE delivery_events (
    id              bigserial PRIMARY KEY,
    delivery_id     bigint      NOT NULL REFERENCES deliveries (id),
    notice_id       bigint      NOT NULL REFERENCES notices (id),
    event           text        NOT NULL,                   -- sending, sent, delivered, undelivered, bounced, failed, unknown, ...
    provider_status text        NOT NULL DEFAULT '',
    error_code      text        NOT NULL DEFAULT '',
    detail          text        NOT NULL DEFAULT '',
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_events_delivery_idx ON delivery_events (delivery_id, id);
CREATE INDEX delivery_events_notice_idx ON delivery_events (notice_id, id);
