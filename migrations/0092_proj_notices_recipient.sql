-- An evidence pack for one beneficiary (courrier evidence --recipient, the
-- console's beneficiary page) finds the beneficiary's sealed notices by
-- number: without this index it read the whole projection (10 million rows
-- at national scale).
CREATE INDEX IF NOT EXISTS proj_notices_recipient_idx ON proj_notices (recipient, notice_id);
