-- Reports at national scale (issue 18): the coverage projection. One row
-- per beneficiary, per Caf of its notices and per evidence mode ('proven':
-- the proven levels only, the reports' default; 'any': every level), built
-- by the sealer from the notice projection in the transaction that seals
-- the events (ledger/coverage.go) and rebuilt from the sealed events by
-- `courrier verify`. The yearly-notice and general-mailings reports read it
-- instead of walking every notice.
CREATE TABLE IF NOT EXISTS proj_coverage (
    recipient_id      bigint        NOT NULL,
    caf               text          NOT NULL DEFAULT '',
    mode              text          NOT NULL CHECK (mode IN ('proven', 'any')),
    recipient         text          NOT NULL DEFAULT '',
    cafs              smallint      NOT NULL DEFAULT 1,  -- rows of this beneficiary in this mode
    -- Personalised notices delivered, ascending by time then notice id:
    -- when, the running maximum of "when + 12 calendar months in Paris"
    -- (covered until), which notice, on what evidence.
    personal_at       timestamptz[] NOT NULL DEFAULT '{}',
    personal_until    timestamptz[] NOT NULL DEFAULT '{}',
    personal_notice   bigint[]      NOT NULL DEFAULT '{}',
    personal_evidence text[]        NOT NULL DEFAULT '{}',
    -- Merged coverage intervals [span_from[i], span_until[i]).
    span_from         timestamptz[] NOT NULL DEFAULT '{}',
    span_until        timestamptz[] NOT NULL DEFAULT '{}',
    -- General mailings delivered per Paris calendar year, then per year
    -- and evidence level.
    years             int[]         NOT NULL DEFAULT '{}',
    year_count        int[]         NOT NULL DEFAULT '{}',
    evidence_year     int[]         NOT NULL DEFAULT '{}',
    evidence_level    text[]        NOT NULL DEFAULT '{}',
    evidence_count    int[]         NOT NULL DEFAULT '{}',
    last_at           timestamptz,                       -- latest delivery counted in the row
    PRIMARY KEY (recipient_id, caf, mode)
);
-- A report may read the projection only if no delivery it holds is after
-- the report's as-of instant, and (national) if no beneficiary has rows
-- under several Cafs; both checks are index look-ups.
CREATE INDEX IF NOT EXISTS proj_coverage_last_idx ON proj_coverage (mode, last_at);
CREATE INDEX IF NOT EXISTS proj_coverage_multi_caf_idx ON proj_coverage (mode) WHERE cafs > 1;

-- While this table holds a row, the sealer rebuilds the whole coverage
-- projection from proj_notices (once, for ledgers sealed before 0090) and
-- then deletes the row.
CREATE TABLE IF NOT EXISTS proj_coverage_rebuild (requested_at timestamptz NOT NULL DEFAULT now());
INSERT INTO proj_coverage_rebuild DEFAULT VALUES;
