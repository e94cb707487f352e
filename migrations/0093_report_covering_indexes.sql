-- Reports at national scale (issue 18): narrow reads for the yearly-notice
-- and general-mailings reports. Both read every active beneficiary's id,
-- number, join date, Caf and test flag; the recipients table's rows are
-- wide (contact details, search text), so a covering index lets them read
-- those five columns alone (an index-only scan) instead of the whole
-- table. Each report reads only its own columns of the coverage
-- projection, in one evidence mode: a covering index per report gives it
-- those, in beneficiary order (a merge join with the first), without the
-- other report's arrays nor the other mode's rows.
CREATE INDEX IF NOT EXISTS recipients_reports_idx ON recipients (id) INCLUDE (ref, joined_at, caf, test) WHERE active;
CREATE INDEX IF NOT EXISTS proj_coverage_yearly_idx ON proj_coverage (mode, recipient_id)
    INCLUDE (caf, span_from, span_until, personal_at, personal_until, personal_evidence);
CREATE INDEX IF NOT EXISTS proj_coverage_years_idx ON proj_coverage (mode, recipient_id)
    INCLUDE (caf, years, year_count, evidence_year, evidence_level, evidence_count);
