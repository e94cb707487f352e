-- Numbers that replied STOP (issue 16): a beneficiary created or updated
-- later with one of them gets no SMS until the number replies START.
CREATE TABLE IF NOT EXISTS sms_opt_outs (
    phone      text PRIMARY KEY,          -- E.164
    source     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
