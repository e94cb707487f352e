-- Status callbacks to upstream systems. An API key may register one
-- callback URL; every final status change of the notices and requests the
-- key created (created_by "key:<id>…") is recorded here, in the transaction
-- that made the change (so none is lost and none is recorded for a change
-- rolled back), by triggers: no delivery path has to remember to call
-- anything. A periodic job hands pending events to River status_callback
-- jobs, which POST them signed, with retries (jobs/callbacks.go).

CREATE TABLE IF NOT EXISTS api_key_callbacks (
    key_id        bigint      PRIMARY KEY REFERENCES api_keys (id),
    url           text        NOT NULL CHECK (url ~ '^https?://'),
    -- The HMAC key: needed to sign, so stored; shown once at registration,
    -- never listed, never logged, never in the ledger.
    secret        text        NOT NULL,
    secret_prefix text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS callback_events (
    id              bigserial   PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,           -- sent to the receiver, the same on every retry
    key_id          bigint      NOT NULL REFERENCES api_keys (id),
    type            text        NOT NULL,                  -- notice.delivered, notice.failed, notice.no_route, delivery.bounced, acknowledgement.delivered, request.closed
    notice_id       bigint,
    request_id      bigint,
    payload         jsonb       NOT NULL,                  -- the body, fixed when the event happened
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'queued', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_status     integer,                               -- HTTP status of the last attempt, if any
    last_error      text        NOT NULL DEFAULT '',
    delivered_at    timestamptz
);
CREATE INDEX IF NOT EXISTS callback_events_pending_idx ON callback_events (id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS callback_events_errors_idx ON callback_events (key_id, id) WHERE last_error <> '' AND state <> 'delivered';

-- callback_key returns the API key id of a created_by value ("key:12",
-- "key:12/Marie Curie"), or NULL.
CREATE OR REPLACE FUNCTION callback_key(created_by text) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$ SELECT (substring(created_by FROM '^key:([0-9]+)'))::bigint $$;

CREATE OR REPLACE FUNCTION record_callback(k bigint, typ text, nid bigint, rid bigint, body jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    eid uuid := gen_random_uuid();
    at  timestamptz := now();
BEGIN
    IF k IS NULL OR NOT EXISTS (SELECT 1 FROM api_key_callbacks WHERE key_id = k) THEN
        RETURN;
    END IF;
    INSERT INTO callback_events (event_id, key_id, type, notice_id, request_id, occurred_at, payload)
    VALUES (eid, k, typ, nid, rid, at,
            jsonb_build_object('event_id', eid, 'type', typ, 'occurred_at', at) || body);
END
$$;

CREATE OR REPLACE FUNCTION notices_status_callback() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    typ text := 'notice.' || NEW.state;
    req bigint;
BEGIN
    IF NEW.state = 'delivered' THEN
        SELECT id INTO req FROM requests WHERE ack_notice_id = NEW.id LIMIT 1;
        IF req IS NOT NULL THEN
            typ := 'acknowledgement.delivered';
        END IF;
    END IF;
    PERFORM record_callback(callback_key(NEW.created_by), typ, NEW.id, req, jsonb_build_object(
        'notice', jsonb_build_object('id', NEW.id, 'kind', NEW.kind, 'state', NEW.state, 'reason', NEW.state_reason,
                                     'channel', NEW.channel, 'idempotency_key', NEW.idempotency_key,
                                     'delivered_at', NEW.delivered_at),
        'request_id', req));
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS notices_status_callback ON notices;
CREATE TRIGGER notices_status_callback
    AFTER UPDATE OF state ON notices
    FOR EACH ROW
    WHEN (NEW.state IN ('delivered', 'failed', 'no_route') AND OLD.state IS DISTINCT FROM NEW.state
          AND NEW.created_by LIKE 'key:%')
    EXECUTE FUNCTION notices_status_callback();

CREATE OR REPLACE FUNCTION deliveries_status_callback() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n notices%ROWTYPE;
BEGIN
    SELECT * INTO n FROM notices WHERE id = NEW.notice_id;
    IF n.created_by NOT LIKE 'key:%' THEN
        RETURN NULL;
    END IF;
    PERFORM record_callback(callback_key(n.created_by), 'delivery.bounced', n.id, NULL, jsonb_build_object(
        'notice', jsonb_build_object('id', n.id, 'kind', n.kind, 'state', n.state, 'idempotency_key', n.idempotency_key),
        'delivery', jsonb_build_object('id', NEW.id, 'channel', NEW.channel, 'state', NEW.state, 'error_code', NEW.error_code)));
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS deliveries_status_callback ON deliveries;
CREATE TRIGGER deliveries_status_callback
    AFTER UPDATE OF state ON deliveries
    FOR EACH ROW
    WHEN (NEW.state = 'bounced' AND OLD.state IS DISTINCT FROM 'bounced')
    EXECUTE FUNCTION deliveries_status_callback();

CREATE OR REPLACE FUNCTION requests_status_callback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM record_callback(callback_key(NEW.created_by), 'request.closed', NEW.answer_notice_id, NEW.id, jsonb_build_object(
        'request', jsonb_build_object('id', NEW.id, 'external_id', NEW.external_id, 'kind', NEW.kind,
                                      'state', NEW.state, 'closed_at', NEW.closed_at)));
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS requests_status_callback ON requests;
CREATE TRIGGER requests_status_callback
    AFTER UPDATE OF state ON requests
    FOR EACH ROW
    WHEN (NEW.state = 'closed' AND OLD.state IS DISTINCT FROM 'closed' AND NEW.created_by LIKE 'key:%')
    EXECUTE FUNCTION requests_status_callback();
