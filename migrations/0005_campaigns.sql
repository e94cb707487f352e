-- Campaigns: general mailings, yearly statement sweeps, life-event outreach
-- and reminders. A campaign's notices point back to it (notices.campaign_id);
-- its counts are computed from those notices, never stored.

CREATE TABLE campaigns (
    id                bigserial PRIMARY KEY,
    name              text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('general_mailing', 'yearly_sweep', 'life_event_outreach', 'reminder')),
    notice_kind       text        NOT NULL,                  -- kind of the notices it creates
    template_key      text        NOT NULL,
    data              jsonb       NOT NULL DEFAULT '{}',     -- template fields shared by every notice
    audience          jsonb       NOT NULL DEFAULT '{}',     -- declarative filter (campaigns.Audience)
    start_at          timestamptz,                           -- not before; null: when started
    pace_days         integer     NOT NULL DEFAULT 0 CHECK (pace_days >= 0),
    window_from       text        NOT NULL DEFAULT '',       -- "09:00", Europe/Paris; '' = any time
    window_to         text        NOT NULL DEFAULT '',
    weekdays_only     boolean     NOT NULL DEFAULT false,
    state             text        NOT NULL DEFAULT 'draft'
                      CHECK (state IN ('draft', 'approved', 'scheduled', 'running', 'paused', 'completed', 'cancelled')),
    needs_approval    boolean     NOT NULL DEFAULT false,    -- four-eyes: approved by someone other than created_by
    calendar_key      text        UNIQUE,                    -- "<entry id>@<date>": created once per calendar occurrence
    reason            text        NOT NULL DEFAULT '',
    test              boolean     NOT NULL DEFAULT false,
    created_by        text        NOT NULL,
    approved_by       text,
    audience_estimate bigint      NOT NULL DEFAULT 0,        -- audience size counted at start (pace planning)
    targeted          bigint      NOT NULL DEFAULT 0,        -- audience members walked by the fan-out, exact
    fanout_cursor     bigint      NOT NULL DEFAULT 0,        -- last recipients.id fanned out (keyset)
    fanout_done_at    timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    approved_at       timestamptz,
    started_at        timestamptz,
    completed_at      timestamptz,
    cancelled_at      timestamptz
);
CREATE INDEX campaigns_state_idx ON campaigns (state) WHERE state IN ('approved', 'scheduled', 'running', 'paused');

-- campaign_events is who did what to a campaign and when. Append-only.
CREATE TABLE campaign_events (
    id          bigserial PRIMARY KEY,
    campaign_id bigint      NOT NULL REFERENCES campaigns (id),
    event       text        NOT NULL,  -- created, approved, started, paused, resumed, cancelled, retried, completed
    actor       text        NOT NULL,
    detail      text        NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_events_campaign_idx ON campaign_events (campaign_id, id);

CREATE FUNCTION campaign_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on campaign_events is refused: the table is append-only', TG_OP;
END
$$;
CREATE TRIGGER campaign_events_append_only BEFORE UPDATE OR DELETE ON campaign_events
    FOR EACH ROW EXECUTE FUNCTION campaign_events_refuse_change();

-- campaign_calendar mirrors the calendar file (SyncCalendar), so that the
-- planned campaigns are visible in the database.
CREATE TABLE campaign_calendar (
    entry_id   text        PRIMARY KEY,
    kind       text        NOT NULL,
    spec       jsonb       NOT NULL,
    active     boolean     NOT NULL DEFAULT true,
    synced_at  timestamptz NOT NULL DEFAULT now()
);

-- campaign_cursors holds the progress of scanners (life-event outreach).
CREATE TABLE campaign_cursors (
    name       text        PRIMARY KEY,
    last_id    bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE notices ADD COLUMN campaign_id bigint REFERENCES campaigns (id);
CREATE INDEX notices_campaign_idx ON notices (campaign_id, state) WHERE campaign_id IS NOT NULL;
-- The yearly sweep looks for each beneficiary's open personalised notice.
CREATE INDEX notices_recipient_open_idx ON notices (recipient_id, kind)
    WHERE state IN ('pending', 'sending', 'sent');
