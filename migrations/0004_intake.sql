-- What upstream systems tell courrier: rights events, life events, online
-- requests and complaints. Each is idempotent on the upstream id.

CREATE TABLE rights_events (
    id            bigserial PRIMARY KEY,
    external_id   text        NOT NULL UNIQUE,              -- upstream event id
    recipient_id  bigint      NOT NULL REFERENCES recipients (id),
    event         text        NOT NULL CHECK (event IN ('opened', 'changed', 'ended', 'refused')),
    benefit       text        NOT NULL,                     -- benefit code, e.g. AF, APL, RSA, PA
    amount_cents  bigint,                                   -- monthly amount after the event, if any
    effective_on  date        NOT NULL,
    notice_id     bigint      REFERENCES notices (id),
    created_by    text        NOT NULL DEFAULT '',
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rights_events_recipient_idx ON rights_events (recipient_id, effective_on);
CREATE INDEX rights_events_event_idx ON rights_events (event, effective_on);

CREATE TABLE life_events (
    id            bigserial PRIMARY KEY,
    external_id   text        NOT NULL UNIQUE,
    recipient_id  bigint      NOT NULL REFERENCES recipients (id),
    kind          text        NOT NULL CHECK (kind IN ('first_birth', 'separation', 'child_death', 'parent_death')),
    occurred_on   date        NOT NULL,
    created_by    text        NOT NULL DEFAULT '',
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX life_events_kind_idx ON life_events (kind, occurred_on);
CREATE INDEX life_events_recipient_idx ON life_events (recipient_id);

-- requests are online requests and complaints (kind = 'complaint').
CREATE TABLE requests (
    id               bigserial PRIMARY KEY,
    external_id      text        NOT NULL UNIQUE,           -- upstream request id
    recipient_id     bigint      NOT NULL REFERENCES recipients (id),
    kind             text        NOT NULL,                  -- benefit_claim, change_of_situation, social_aid, document, complaint, other
    minimum_income   boolean     NOT NULL DEFAULT false,    -- concerns a minimum-income benefit (10-day target)
    channel          text        NOT NULL DEFAULT 'online', -- online, post, counter, phone
    received_at      timestamptz NOT NULL,
    ack_due_by       timestamptz NOT NULL,                  -- 5 days after receipt
    answer_due_by    timestamptz NOT NULL,                  -- 15 days (10 for minimum income)
    ack_notice_id    bigint      REFERENCES notices (id),
    answer_notice_id bigint      REFERENCES notices (id),
    state            text        NOT NULL DEFAULT 'received'
                     CHECK (state IN ('received', 'acknowledged', 'answered', 'closed')),
    answered_at      timestamptz,                           -- when the answer notice was created
    closed_at        timestamptz,                           -- when the answer notice was delivered
    created_by       text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_received_idx ON requests (received_at);
CREATE INDEX requests_open_idx ON requests (state, ack_due_by) WHERE state <> 'closed';
CREATE INDEX requests_ack_notice_idx ON requests (ack_notice_id);
CREATE INDEX requests_answer_notice_idx ON requests (answer_notice_id);
