-- API keys, who-wrote-what, request state driven by delivery, and recorded
-- deadline breaches.
--
-- Who wrote a row is recorded as text in the existing created_by columns
-- (notices, rights_events, life_events, requests) and in the columns added
-- below, in the form "key:<id>" or, for a staff key, "key:<id>/<operator>"
-- (httpapi.Actor). Text rather than a foreign key because the same columns
-- also name system writers ("watchdog", "import:cli", "campaign:<id>") and
-- because a key row may be revoked but must never be needed to read history.

CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    name         text        NOT NULL CHECK (name <> ''),
    operator     text        NOT NULL DEFAULT '',          -- staff person the key belongs to
    scopes       text[]      NOT NULL CHECK (cardinality(scopes) > 0
                             AND scopes <@ ARRAY['ingest', 'staff', 'admin', 'audit']::text[]),
    test         boolean     NOT NULL DEFAULT false,       -- notices go to the outbox only
    hash         bytea       NOT NULL UNIQUE,              -- SHA-256 of the secret
    prefix       text        NOT NULL,                     -- first characters, shown in lists
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

ALTER TABLE recipients ADD COLUMN updated_by text NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN answered_by text NOT NULL DEFAULT '';

-- A request follows its notices whatever channel delivers them, including an
-- SMS whose delivery receipt arrives later through a webhook: the
-- acknowledgement being delivered acknowledges the request, the answer being
-- delivered closes it.
CREATE FUNCTION requests_follow_notice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE requests SET state = 'acknowledged'
    WHERE ack_notice_id = NEW.id AND state = 'received';
    UPDATE requests SET state = 'closed', closed_at = coalesce(NEW.delivered_at, now())
    WHERE answer_notice_id = NEW.id AND state <> 'closed';
    RETURN NULL;
END
$$;

CREATE TRIGGER notices_delivered_requests
    AFTER UPDATE OF state ON notices
    FOR EACH ROW
    WHEN (NEW.state = 'delivered' AND OLD.state IS DISTINCT FROM 'delivered')
    EXECUTE FUNCTION requests_follow_notice();

-- request_breaches records each promise a request missed, once, when the
-- deadline watchdog sees it: "acknowledgement" (not delivered within the
-- acknowledgement deadline) or "answer" (not closed within the processing
-- deadline). Rows are never deleted.
CREATE TABLE request_breaches (
    id          bigserial PRIMARY KEY,
    request_id  bigint      NOT NULL REFERENCES requests (id),
    deadline    text        NOT NULL CHECK (deadline IN ('acknowledgement', 'answer')),
    due_by      timestamptz NOT NULL,
    met_at      timestamptz,                               -- when it was done late, if it was when seen
    detected_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (request_id, deadline)
);
CREATE INDEX requests_answer_due_idx ON requests (answer_due_by) WHERE state <> 'closed';

-- payload_hash fingerprints what upstream sent with a rights event, so that a
-- replay of its id is told apart from a different event reusing the id.
ALTER TABLE rights_events ADD COLUMN payload_hash text NOT NULL DEFAULT '';
