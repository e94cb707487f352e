-- Console search and lists: accent-insensitive partial search of
-- beneficiaries (pg_trgm + unaccent from PostgreSQL's contrib), and the
-- indexes behind the console's lists.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;

-- unaccent(text) is only STABLE (it reads its dictionary through the search
-- path), so it cannot appear in an index. Naming the dictionary explicitly,
-- schema-qualified, makes the result depend on the arguments alone; the
-- wrapper is declared IMMUTABLE so that it can be indexed.
CREATE OR REPLACE FUNCTION courrier_fold(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, t));

-- courrier_recipient_haystack is the text a beneficiary search matches:
-- number, names, email, phone (E.164 and national form) and postal code,
-- folded. It is stored (a generated column) rather than only indexed:
-- unaccent costs tens of microseconds a call, and both the recheck of a
-- bitmap scan and a filter would otherwise call it on every candidate row.
CREATE OR REPLACE FUNCTION courrier_recipient_haystack(ref text, given text, family text, email text, phone text, postal text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN courrier_fold(concat_ws(' ', ref, given, family, email, phone,
        CASE WHEN phone LIKE '+33%' THEN '0' || substr(phone, 4) END, postal));

ALTER TABLE recipients ADD COLUMN IF NOT EXISTS search_text text NOT NULL
    GENERATED ALWAYS AS (courrier_recipient_haystack(ref, given_name, family_name, email, phone, postal_code)) STORED;

CREATE INDEX IF NOT EXISTS recipients_search_trgm_idx ON recipients USING gin (search_text gin_trgm_ops);

-- The timeline lists a beneficiary's notices newest first.
CREATE INDEX IF NOT EXISTS notices_recipient_id_idx ON notices (recipient_id, id);
