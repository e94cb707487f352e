-- A delivered notice closes or acknowledges the request it answers
-- (notices_delivered_requests, migration 0007): a PL/pgSQL call and two
-- UPDATEs of requests for every delivered notice, campaign notices
-- included, although a request's acknowledgement and answer are always
-- notices of their own (jobs/intake.go), never a campaign's. This makes
-- that a rule of the database and lets the trigger skip campaign notices
-- in its WHEN clause, which costs no function call.

-- No request links a campaign notice today (the migration stops if one does).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM requests r JOIN notices n ON n.id IN (r.ack_notice_id, r.answer_notice_id)
               WHERE n.campaign_id IS NOT NULL) THEN
        RAISE EXCEPTION 'a request is linked to a campaign notice: notices_delivered_requests must keep firing for campaign notices';
    END IF;
END
$$;

-- A request may not be linked to a campaign notice…
CREATE OR REPLACE FUNCTION courrier_request_links_no_campaign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM notices n WHERE n.id IN (NEW.ack_notice_id, NEW.answer_notice_id) AND n.campaign_id IS NOT NULL) THEN
        RAISE EXCEPTION 'request % cannot be linked to a campaign notice', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS requests_links_no_campaign ON requests;
CREATE TRIGGER requests_links_no_campaign BEFORE INSERT OR UPDATE OF ack_notice_id, answer_notice_id ON requests
    FOR EACH ROW WHEN (NEW.ack_notice_id IS NOT NULL OR NEW.answer_notice_id IS NOT NULL)
    EXECUTE FUNCTION courrier_request_links_no_campaign();

-- …and a notice never changes campaign.
CREATE OR REPLACE FUNCTION courrier_notice_campaign_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'notice %: campaign_id cannot change', NEW.id USING ERRCODE = 'check_violation';
END
$$;
DROP TRIGGER IF EXISTS notices_campaign_fixed ON notices;
CREATE TRIGGER notices_campaign_fixed BEFORE UPDATE OF campaign_id ON notices
    FOR EACH ROW WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id)
    EXECUTE FUNCTION courrier_notice_campaign_fixed();

-- So a campaign notice being delivered has no request to follow it.
DROP TRIGGER IF EXISTS notices_delivered_requests ON notices;
CREATE TRIGGER notices_delivered_requests
    AFTER UPDATE OF state ON notices
    FOR EACH ROW
    WHEN (NEW.state = 'delivered' AND OLD.state IS DISTINCT FROM 'delivered' AND NEW.campaign_id IS NULL)
    EXECUTE FUNCTION requests_follow_notice();
