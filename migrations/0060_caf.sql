-- The Caf of each beneficiary and of each notice (issue 16). The ledger
-- helper adds the same columns for per-Caf reports: keep IF NOT EXISTS.
ALTER TABLE recipients ADD COLUMN IF NOT EXISTS caf text;
ALTER TABLE notices ADD COLUMN IF NOT EXISTS caf text;
