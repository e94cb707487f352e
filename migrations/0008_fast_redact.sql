-- The ledger's insert trigger redacts contact details from free text. Most
-- event texts ("attempt 1 via smtp", "smtp_accepted") cannot hold one: skip
-- the three regular expressions unless the text has an @ or a run of digits
-- long enough to be a phone number.
CREATE OR REPLACE FUNCTION courrier_redact(s text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN s IS NULL OR s = '' OR (strpos(s, '@') = 0 AND s !~ '[0-9][0-9 .-]{6}') THEN s
        ELSE regexp_replace(
               regexp_replace(
                 regexp_replace(s, '[A-Za-z0-9._%+''-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+', '[email]', 'g'),
                 '\+[1-9][0-9]{7,14}', '[phone]', 'g'),
               '\m0[1-9]([ .-]?[0-9]{2}){4}\M', '[phone]', 'g')
    END
$$;
