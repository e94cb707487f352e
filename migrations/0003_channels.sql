-- Channels: the history of each beneficiary's consent and contact status
-- (STOP replies, unsubscribe links, bounces, invalid numbers), appended to and
-- never changed, so that any current consent can be explained.

CREATE TABLE recipient_events (
    id           bigserial   PRIMARY KEY,
    recipient_id bigint      NOT NULL REFERENCES recipients (id),
    event        text        NOT NULL CHECK (event IN ('sms_consent_withdrawn', 'sms_consent_restored',
                                                       'email_undeliverable', 'phone_undeliverable', 'unsubscribed')),
    channel      text        NOT NULL DEFAULT '',       -- email, sms, or '' (all outreach)
    source       text        NOT NULL DEFAULT '',       -- twilio_inbound, twilio_error_21610, smtp_550, unsubscribe_link, staff:…
    detail       text        NOT NULL DEFAULT '',       -- never a phone number or an address
    occurred_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recipient_events_recipient_idx ON recipient_events (recipient_id, id);

CREATE FUNCTION courrier_recipient_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on recipient_events is refused: the table is append-only', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER recipient_events_append_only BEFORE UPDATE OR DELETE ON recipient_events
    FOR EACH ROW EXECUTE FUNCTION courrier_recipient_events_refuse_change();

-- Inbound STOP/START replies find beneficiaries by phone number.
CREATE INDEX recipients_phone_idx ON recipients (phone) WHERE phone IS NOT NULL;
