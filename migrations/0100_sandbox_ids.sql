-- Live and test data have separate id spaces: an upstream event or request
-- id, and a notice's idempotency key, is unique per world. A test key that
-- reuses a live id creates its own row instead of meeting a conflict that
-- would tell it the live id exists, and a live caller is never blocked by
-- an id a test caller chose.
ALTER TABLE rights_events DROP CONSTRAINT IF EXISTS rights_events_external_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS rights_events_external_id_test_key ON rights_events (external_id, test);
ALTER TABLE life_events DROP CONSTRAINT IF EXISTS life_events_external_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS life_events_external_id_test_key ON life_events (external_id, test);
ALTER TABLE requests DROP CONSTRAINT IF EXISTS requests_external_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS requests_external_id_test_key ON requests (external_id, test);
ALTER TABLE notices DROP CONSTRAINT IF EXISTS notices_idempotency_key_key;
CREATE UNIQUE INDEX IF NOT EXISTS notices_idempotency_key_test_key ON notices (idempotency_key, test);
