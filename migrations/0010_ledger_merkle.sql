-- Proof that binds (issue 15): every fact a compliance report needs is
-- carried by a ledger event, the sealed events form an RFC 6962 Merkle tree
-- whose checkpoints are signed outside the database (ledger/seal.go), and
-- reports read projections that the sealer maintains from sealed events and
-- that `courrier verify` recomputes (ledger/project.go).

-- The Caf of each beneficiary and notice (issue 16; the territories work
-- adds the same columns).
ALTER TABLE recipients ADD COLUMN IF NOT EXISTS caf text;
ALTER TABLE notices ADD COLUMN IF NOT EXISTS caf text;

-- Events that concern a notice before any delivery (its creation, its link
-- to a request) or a request before any notice (its receipt) have no
-- delivery or no notice. facts holds the event's facts as a flat JSON object
-- of strings; it is part of the sealed encoding.
ALTER TABLE delivery_events ALTER COLUMN delivery_id DROP NOT NULL;
ALTER TABLE delivery_events ALTER COLUMN notice_id DROP NOT NULL;
ALTER TABLE delivery_events ADD COLUMN IF NOT EXISTS facts jsonb NOT NULL DEFAULT '{}';

-- courrier_ts renders an instant as the ledger writes times: UTC, RFC 3339,
-- microseconds.
CREATE FUNCTION courrier_ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t IS NULL THEN '' ELSE to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END
$$;

-- A notice's creation is a ledger event, whatever inserted it (API, intake,
-- campaign fan-out by COPY or INSERT, sweep): one statement-level trigger,
-- one INSERT per statement.
CREATE FUNCTION courrier_notices_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_events (notice_id, event, detail, occurred_at, facts)
    SELECT n.id, 'notice_created', '', n.created_at,
           jsonb_build_object(
               'kind', n.kind, 'template_key', n.template_key,
               'recipient', r.ref, 'recipient_id', n.recipient_id::text,
               'caf', coalesce(nullif(n.caf, ''), r.caf, ''),
               'due_by', courrier_ts(n.due_by), 'test', n.test::text,
               'campaign_id', coalesce(n.campaign_id::text, ''),
               'created_by', n.created_by, 'created_at', courrier_ts(n.created_at))
    FROM new_notices n JOIN recipients r ON r.id = n.recipient_id
    ORDER BY n.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER notices_ledger_created AFTER INSERT ON notices
    REFERENCING NEW TABLE AS new_notices
    FOR EACH STATEMENT EXECUTE FUNCTION courrier_notices_created();

-- A request's receipt, deadlines and links to its acknowledgement and answer
-- notices are ledger events too.
CREATE FUNCTION courrier_requests_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ref text;
    caf text;
BEGIN
    SELECT r.ref, coalesce(r.caf, '') INTO ref, caf FROM recipients r WHERE r.id = NEW.recipient_id;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO delivery_events (event, detail, occurred_at, facts)
        VALUES ('request_received', '', NEW.received_at, jsonb_build_object(
            'request', NEW.external_id, 'recipient', ref, 'recipient_id', NEW.recipient_id::text, 'caf', caf,
            'kind', NEW.kind, 'minimum_income', NEW.minimum_income::text, 'channel', NEW.channel,
            'received_at', courrier_ts(NEW.received_at), 'ack_due_by', courrier_ts(NEW.ack_due_by),
            'answer_due_by', courrier_ts(NEW.answer_due_by)));
    END IF;
    IF NEW.ack_notice_id IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.ack_notice_id IS DISTINCT FROM NEW.ack_notice_id) THEN
        INSERT INTO delivery_events (notice_id, event, detail, facts)
        VALUES (NEW.ack_notice_id, 'request_linked', '', jsonb_build_object('request', NEW.external_id, 'role', 'ack'));
    END IF;
    IF NEW.answer_notice_id IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.answer_notice_id IS DISTINCT FROM NEW.answer_notice_id) THEN
        INSERT INTO delivery_events (notice_id, event, detail, facts)
        VALUES (NEW.answer_notice_id, 'request_linked', '', jsonb_build_object('request', NEW.external_id, 'role', 'answer'));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER requests_ledger_recorded AFTER INSERT OR UPDATE OF ack_notice_id, answer_notice_id ON requests
    FOR EACH ROW EXECUTE FUNCTION courrier_requests_recorded();

-- The Merkle tree (RFC 6962) over sealed events. Leaf i is the event
-- ledger_leaves.event_id with its leaf hash; ledger_tree holds every other
-- node of a perfect subtree (levels 1 and up), from which proofs are
-- read. Each seal appends a checkpoint: tree size, root hash and the signed
-- note that carries them (golang.org/x/mod/sumdb/note), optionally with an
-- RFC 3161 timestamp token over the note.
CREATE TABLE ledger_leaves (
    idx      bigint PRIMARY KEY CHECK (idx >= 0),
    event_id bigint NOT NULL UNIQUE,
    hash     bytea  NOT NULL CHECK (length(hash) = 32)   -- the leaf hash (level 0 of the tree)
);
CREATE TABLE ledger_tree (
    level smallint NOT NULL CHECK (level >= 1),
    idx   bigint   NOT NULL CHECK (idx >= 0),
    hash  bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);
CREATE TABLE ledger_checkpoints (
    id        bigserial   PRIMARY KEY,
    tree_size bigint      NOT NULL UNIQUE CHECK (tree_size > 0),
    root_hash bytea       NOT NULL CHECK (length(root_hash) = 32),
    note      text        NOT NULL,
    tsa_token bytea,
    signed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TRIGGER ledger_leaves_append_only BEFORE UPDATE OR DELETE ON ledger_leaves
    FOR EACH ROW EXECUTE FUNCTION courrier_refuse_change();
CREATE TRIGGER ledger_leaves_no_truncate BEFORE TRUNCATE ON ledger_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION courrier_refuse_change();
CREATE TRIGGER ledger_tree_append_only BEFORE UPDATE OR DELETE ON ledger_tree
    FOR EACH ROW EXECUTE FUNCTION courrier_refuse_change();
CREATE TRIGGER ledger_tree_no_truncate BEFORE TRUNCATE ON ledger_tree
    FOR EACH STATEMENT EXECUTE FUNCTION courrier_refuse_change();
CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION courrier_refuse_change();
CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION courrier_refuse_change();

-- Projections: what reports read. Written only by the sealer from sealed
-- events, in leaf order; `courrier verify` recomputes them from the events
-- and compares row for row. proven_* is the first event of a proven evidence
-- level (ledger.EvidenceLevels), weak_* the first of a weaker level; a
-- revoking event (bounced, returned) after them clears both.
CREATE TABLE proj_notices (
    notice_id      bigint      PRIMARY KEY,
    recipient      text        NOT NULL DEFAULT '',
    recipient_id   bigint      NOT NULL DEFAULT 0,
    caf            text        NOT NULL DEFAULT '',
    kind           text        NOT NULL DEFAULT '',
    test           boolean     NOT NULL DEFAULT false,
    campaign_id    bigint,
    created_at     timestamptz,
    due_by         timestamptz,
    proven_level   text        NOT NULL DEFAULT '',
    proven_at      timestamptz,
    proven_channel text        NOT NULL DEFAULT '',
    weak_level     text        NOT NULL DEFAULT '',
    weak_at        timestamptz,
    weak_channel   text        NOT NULL DEFAULT '',
    revoked_at     timestamptz
);
CREATE INDEX proj_notices_personal_idx ON proj_notices (recipient_id, kind)
    INCLUDE (proven_at, weak_at, weak_level)
    WHERE NOT test AND kind IN ('rights_opened', 'rights_changed', 'no_rights', 'yearly_statement', 'general_information');

CREATE TABLE proj_requests (
    request          text        PRIMARY KEY,
    recipient        text        NOT NULL DEFAULT '',
    recipient_id     bigint      NOT NULL DEFAULT 0,
    caf              text        NOT NULL DEFAULT '',
    kind             text        NOT NULL DEFAULT '',
    minimum_income   boolean     NOT NULL DEFAULT false,
    channel          text        NOT NULL DEFAULT '',
    received_at      timestamptz,
    ack_due_by       timestamptz,
    answer_due_by    timestamptz,
    ack_notice_id    bigint,
    answer_notice_id bigint
);
CREATE INDEX proj_requests_received_idx ON proj_requests (received_at);

-- Replayed provider callbacks (same message, same status) append nothing:
-- RecordReceipt looks for the same event on the same delivery.
CREATE INDEX delivery_events_receipt_idx ON delivery_events (delivery_id, event, provider_status)
    WHERE provider_status <> '';

-- Existing data: the facts of notices and requests recorded before this
-- migration become ledger events now (their occurred_at is the original
-- time), so that the projections, and the reports, cover them once sealed.
-- Earlier delivery events carry their evidence in detail/provider_status
-- (ledger.EvidenceOf reads those legacy forms).
INSERT INTO delivery_events (notice_id, event, detail, occurred_at, facts)
SELECT n.id, 'notice_created', 'recorded before the ledger carried facts', n.created_at,
       jsonb_build_object(
           'kind', n.kind, 'template_key', n.template_key,
           'recipient', r.ref, 'recipient_id', n.recipient_id::text,
           'caf', coalesce(nullif(n.caf, ''), r.caf, ''),
           'due_by', courrier_ts(n.due_by), 'test', n.test::text,
           'campaign_id', coalesce(n.campaign_id::text, ''),
           'created_by', n.created_by, 'created_at', courrier_ts(n.created_at))
FROM notices n JOIN recipients r ON r.id = n.recipient_id
ORDER BY n.id;
INSERT INTO delivery_events (event, detail, occurred_at, facts)
SELECT 'request_received', 'recorded before the ledger carried facts', q.received_at, jsonb_build_object(
           'request', q.external_id, 'recipient', r.ref, 'recipient_id', q.recipient_id::text, 'caf', coalesce(r.caf, ''),
           'kind', q.kind, 'minimum_income', q.minimum_income::text, 'channel', q.channel,
           'received_at', courrier_ts(q.received_at), 'ack_due_by', courrier_ts(q.ack_due_by),
           'answer_due_by', courrier_ts(q.answer_due_by))
FROM requests q JOIN recipients r ON r.id = q.recipient_id
ORDER BY q.id;
INSERT INTO delivery_events (notice_id, event, detail, facts)
SELECT x.notice_id, 'request_linked', 'recorded before the ledger carried facts', jsonb_build_object('request', x.external_id, 'role', x.role)
FROM (SELECT id, external_id, ack_notice_id AS notice_id, 'ack' AS role FROM requests WHERE ack_notice_id IS NOT NULL
      UNION ALL
      SELECT id, external_id, answer_notice_id, 'answer' FROM requests WHERE answer_notice_id IS NOT NULL) x
ORDER BY x.id, x.role;
