-- Template versions: the exact source every message was rendered from.
-- A version is the hex SHA-256 of the source (the template file bundled with
-- the shared partials it was compiled with), so a row never changes once
-- written and any past message can be re-rendered word for word.
CREATE TABLE template_versions (
    version       text        PRIMARY KEY CHECK (version ~ '^[0-9a-f]{64}$'),
    key           text        NOT NULL,                -- notice kind, e.g. rights_opened
    channel       text        NOT NULL CHECK (channel IN ('email', 'sms', 'letter')),
    source        text        NOT NULL,
    first_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX template_versions_key_idx ON template_versions (key, channel, first_used_at);
