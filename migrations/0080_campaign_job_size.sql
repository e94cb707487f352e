-- job_size is the number of notices per deliver_batch job chosen for a
-- campaign (`courrier campaign create|start|run --job-size N`); 0 means the
-- server's default (COURRIER_FANOUT_JOB_SIZE, else 250). Stored with the
-- campaign so that the fan-out, which runs later in `serve`, honours it.
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS job_size integer NOT NULL DEFAULT 0 CHECK (job_size >= 0);
