-- A campaign batch's acceptances are recorded in groups, one group per
-- commit (jobs/deliver_batch.go). courrier_accept_many records a group in
-- one call: each delivery row is rewritten once (state, message id, relay
-- reply), one delivered/sent event is appended per acceptance with its facts
-- (the same facts as ledger.acceptFacts), and each notice moves to sent or
-- delivered. It returns how many deliveries it found and how many events it
-- appended.
--
-- Why a function: as a prepared statement, its unnest() of array
-- parameters makes each custom plan (which knows the group's size) look
-- cheaper than the generic one, so PostgreSQL planned it again on every
-- call (a quarter of the server's CPU in the email phase). Here the
-- statement's plan is cached once per connection, and forced generic. A
-- plan cached while the tables were still small would scan them whole for
-- ever after, so the function also rules out sequential scans and hash or
-- merge joins: it reads deliveries and notices by primary key whatever the
-- tables' and the group's sizes.
CREATE OR REPLACE FUNCTION courrier_accept_many(
    p_delivery bigint[], p_notice bigint[], p_delivered bool[], p_evidence text[], p_channel text[],
    p_message_id text[], p_provider text[], p_reply text[], p_at timestamptz,
    OUT deliveries_done bigint, OUT events_done bigint)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    WITH v AS (
        SELECT * FROM unnest(p_delivery, p_notice, p_delivered, p_evidence, p_channel, p_message_id, p_provider, p_reply)
               AS v(d, nid, delivered, evidence, ch, mid, provider, reply)
    ), upd_deliveries AS (
        UPDATE deliveries d
        SET provider_message_id = coalesce(d.provider_message_id, nullif(v.mid, '')),
            sent_at = coalesce(d.sent_at, p_at),
            state = CASE WHEN d.state IN ('pending', 'sending') OR (d.state = 'sent' AND v.delivered)
                         THEN CASE WHEN v.delivered THEN 'delivered' ELSE 'sent' END ELSE d.state END,
            final_at = CASE WHEN v.delivered THEN coalesce(d.final_at, p_at) ELSE d.final_at END,
            relay_reply = CASE WHEN v.reply <> '' THEN v.reply ELSE d.relay_reply END,
            updated_at = p_at
        FROM v WHERE d.id = v.d
        RETURNING d.id
    ), new_events AS (
        INSERT INTO delivery_events (delivery_id, notice_id, event, detail, occurred_at, facts)
        SELECT v.d, v.nid, CASE WHEN v.delivered THEN 'delivered' ELSE 'sent' END,
               CASE WHEN v.delivered THEN v.evidence ELSE 'accepted by provider' END, p_at,
               jsonb_build_object('channel', v.ch,
                                  'provider', coalesce(nullif(v.provider, ''), (SELECT d.provider FROM deliveries d WHERE d.id = v.d)),
                                  'provider_message_id', v.mid, 'accepted_as', split_part(v.evidence, ': ', 1))
                 || CASE WHEN v.delivered THEN jsonb_build_object('evidence', split_part(v.evidence, ': ', 1)) ELSE '{}'::jsonb END
                 || CASE WHEN strpos(v.evidence, ': ') > 0
                         THEN jsonb_build_object('relay_reply', courrier_redact(substr(v.evidence, strpos(v.evidence, ': ') + 2)))
                         ELSE '{}'::jsonb END
        FROM v ORDER BY v.d
        RETURNING 1
    ), upd_notices AS (
        UPDATE notices n
        SET state = CASE WHEN v.delivered OR n.state = 'delivered' THEN 'delivered' ELSE 'sent' END,
            channel = v.ch, state_reason = '', updated_at = p_at,
            sent_at = coalesce(n.sent_at, p_at),
            delivered_at = CASE WHEN v.delivered THEN coalesce(n.delivered_at, p_at) ELSE n.delivered_at END
        FROM v WHERE n.id = v.nid AND n.state NOT IN ('cancelled')
        RETURNING 1
    )
    -- upd_notices runs though unread: a data-modifying WITH always runs.
    SELECT (SELECT count(*) FROM upd_deliveries), (SELECT count(*) FROM new_events)
    INTO deliveries_done, events_done;
END
$$;
