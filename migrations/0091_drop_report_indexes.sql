-- Reports read the projections (proj_notices, proj_requests, proj_coverage)
-- since the ledger work and the coverage projection (0010, 0090): the
-- working-table indexes migration 0006 built for them serve no query any
-- more, and every delivery paid for them (two partial indexes rewritten when
-- a notice becomes delivered, one when a delivery does). Checked against
-- every query of the repository (console, notices, jobs, campaigns,
-- requests, compliance): the sweep and the campaign audience filter notices
-- by beneficiary and kind (notices_recipient_kind_idx), deliveries are found
-- by notice through their UNIQUE (notice_id, channel) index.
DROP INDEX IF EXISTS notices_personal_delivered_idx;
DROP INDEX IF EXISTS notices_general_delivered_idx;
DROP INDEX IF EXISTS deliveries_delivered_notice_idx;
