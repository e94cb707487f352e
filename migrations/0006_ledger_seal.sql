-- Tamper-evident ledger: delivery_events becomes append-only in the database,
-- a hash chain over it is kept in two append-only tables, and the indexes the
-- compliance reports need. See ledger/seal.go for the chain's definition.

-- Any UPDATE, DELETE or TRUNCATE of an append-only table is refused, whoever
-- runs it. (A superuser can still disable triggers or set
-- session_replication_role = replica: that is what the hash chain and
-- `courrier verify` are for.)
CREATE FUNCTION courrier_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege', HINT = 'ledger rows are evidence; append a new event instead';
END
$$;

-- courrier_redact masks email addresses and phone numbers in free text, so
-- that no contact detail ever reaches the ledger (which can never be purged)
-- and so that retention can scrub deliveries.error.
CREATE FUNCTION courrier_redact(s text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(
             regexp_replace(
               regexp_replace(s, '[A-Za-z0-9._%+''-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+', '[email]', 'g'),
               '\+[1-9][0-9]{7,14}', '[phone]', 'g'),
             '\m0[1-9]([ .-]?[0-9]{2}){4}\M', '[phone]', 'g')
$$;

-- Before a ledger row is stored: contact details are redacted, and
-- recorded_at becomes the wall-clock time of the insert (not the start of the
-- inserting transaction). The sealer relies on the latter: an event id is
-- taken from the sequence no earlier than its transaction started and no later
-- than its recorded_at, which lets Seal know which ids can no longer be
-- overtaken by a lower id committing late.
CREATE FUNCTION courrier_delivery_event_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.detail := courrier_redact(NEW.detail);
    NEW.provider_status := courrier_redact(NEW.provider_status);
    NEW.error_code := courrier_redact(NEW.error_code);
    NEW.recorded_at := clock_timestamp();
    RETURN NEW;
END
$$;

CREATE TRIGGER delivery_events_before_insert BEFORE INSERT ON delivery_events
    FOR EACH ROW EXECUTE FUNCTION courrier_delivery_event_insert();
CREATE TRIGGER delivery_events_append_only BEFORE UPDATE OR DELETE ON delivery_events
    FOR EACH ROW EXECUTE FUNCTION courrier_refuse_change();
CREATE TRIGGER delivery_events_no_truncate BEFORE TRUNCATE ON delivery_events
    FOR EACH STATEMENT EXECUTE FUNCTION courrier_refuse_change();

-- One row per sealed batch: the chain's head hash after the batch.
CREATE TABLE ledger_seals (
    id             bigserial   PRIMARY KEY,
    first_position bigint      NOT NULL,
    last_position  bigint      NOT NULL UNIQUE,
    last_event_id  bigint      NOT NULL,
    head_hash      bytea       NOT NULL CHECK (length(head_hash) = 32),
    sealed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (first_position >= 1 AND last_position >= first_position)
);

-- One row per sealed event: its place in the chain and its hash,
-- hash = SHA-256(prev_hash || canonical encoding of the event).
-- Kept apart from delivery_events so that sealing never updates the ledger.
CREATE TABLE ledger_chain (
    event_id  bigint PRIMARY KEY REFERENCES delivery_events (id),
    position  bigint NOT NULL UNIQUE CHECK (position >= 1),
    prev_hash bytea  NOT NULL CHECK (length(prev_hash) = 32),
    hash      bytea  NOT NULL CHECK (length(hash) = 32),
    seal_id   bigint NOT NULL REFERENCES ledger_seals (id)
);

CREATE TRIGGER ledger_seals_append_only BEFORE UPDATE OR DELETE ON ledger_seals
    FOR EACH ROW EXECUTE FUNCTION courrier_refuse_change();
CREATE TRIGGER ledger_seals_no_truncate BEFORE TRUNCATE ON ledger_seals
    FOR EACH STATEMENT EXECUTE FUNCTION courrier_refuse_change();
CREATE TRIGGER ledger_chain_append_only BEFORE UPDATE OR DELETE ON ledger_chain
    FOR EACH ROW EXECUTE FUNCTION courrier_refuse_change();
CREATE TRIGGER ledger_chain_no_truncate BEFORE TRUNCATE ON ledger_chain
    FOR EACH STATEMENT EXECUTE FUNCTION courrier_refuse_change();

-- Compliance report indexes (compliance/rules.go). All are partial on what a
-- rule counts, so they stay a fraction of the notices table:
--
-- yearly-notice scans delivered personalised notices by delivery time over
-- (from - 12 months, to) and groups them by beneficiary: a range scan on
-- delivered_at that can be answered from the index alone.
CREATE INDEX notices_personal_delivered_idx ON notices (delivered_at, recipient_id)
    INCLUDE (id)
    WHERE delivered_at IS NOT NULL AND NOT test
      AND kind IN ('rights_opened', 'rights_changed', 'no_rights', 'yearly_statement');
-- general-mailings counts delivered general_information notices per
-- beneficiary within a calendar year: same shape.
CREATE INDEX notices_general_delivered_idx ON notices (delivered_at, recipient_id)
    INCLUDE (id)
    WHERE delivered_at IS NOT NULL AND NOT test AND kind = 'general_information';
-- Evidence level of a delivered notice: its delivered delivery's provider,
-- looked up by notice without touching the wide rows (content).
CREATE INDEX deliveries_delivered_notice_idx ON deliveries (notice_id, final_at)
    INCLUDE (provider)
    WHERE state = 'delivered';
-- Request rules filter requests received in the period (requests_received_idx
-- exists) and join notices by primary key: no new index needed there.
-- Purge finds deliveries still holding content by age.
CREATE INDEX deliveries_retention_idx ON deliveries ((coalesce(final_at, created_at)))
    WHERE content IS NOT NULL OR address <> '';
