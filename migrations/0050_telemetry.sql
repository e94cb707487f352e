-- Operations: a notice keeps the id of the trace that created it, so that an
-- operator can go from a beneficiary's timeline to the trace; and the
-- metrics derived from the sealed ledger keep their cursor (a position in
-- ledger_chain) here, so that each sealed event is counted exactly once
-- whichever serve process reads it. Counting starts at the ledger's current
-- end: history is not replayed into the counters.
ALTER TABLE notices ADD COLUMN IF NOT EXISTS trace_id text;

CREATE TABLE IF NOT EXISTS telemetry_cursors (
    name     text   PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0
);
INSERT INTO telemetry_cursors (name, position)
SELECT 'ledger', coalesce(max(position), 0) FROM ledger_chain
ON CONFLICT DO NOTHING;
