-- Test data lives apart from live data. Rows created with a test API key
-- carry test = true; a beneficiary number may exist once live and once as
-- test data, and test keys only ever see or touch test rows (httpapi).
ALTER TABLE recipients    ADD COLUMN IF NOT EXISTS test boolean NOT NULL DEFAULT false;
ALTER TABLE rights_events ADD COLUMN IF NOT EXISTS test boolean NOT NULL DEFAULT false;
ALTER TABLE life_events   ADD COLUMN IF NOT EXISTS test boolean NOT NULL DEFAULT false;
ALTER TABLE requests      ADD COLUMN IF NOT EXISTS test boolean NOT NULL DEFAULT false;

ALTER TABLE recipients DROP CONSTRAINT IF EXISTS recipients_ref_key;
CREATE UNIQUE INDEX IF NOT EXISTS recipients_ref_test_key ON recipients (ref, test);

-- Whatever path creates it, a row about a test beneficiary is test data,
-- and a notice to one never leaves through a real provider.
CREATE OR REPLACE FUNCTION courrier_inherit_test() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.test := NEW.test OR coalesce((SELECT r.test FROM recipients r WHERE r.id = NEW.recipient_id), false);
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS rights_events_test ON rights_events;
CREATE TRIGGER rights_events_test BEFORE INSERT ON rights_events FOR EACH ROW EXECUTE FUNCTION courrier_inherit_test();
DROP TRIGGER IF EXISTS life_events_test ON life_events;
CREATE TRIGGER life_events_test BEFORE INSERT ON life_events FOR EACH ROW EXECUTE FUNCTION courrier_inherit_test();
DROP TRIGGER IF EXISTS requests_test ON requests;
CREATE TRIGGER requests_test BEFORE INSERT ON requests FOR EACH ROW EXECUTE FUNCTION courrier_inherit_test();
DROP TRIGGER IF EXISTS notices_test ON notices;
CREATE TRIGGER notices_test BEFORE INSERT ON notices FOR EACH ROW EXECUTE FUNCTION courrier_inherit_test();
