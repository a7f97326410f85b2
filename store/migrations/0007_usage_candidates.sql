-- Usage batches re-evaluate only the cards and pools whose thresholds they cross.
-- depends: 0006_security

-- Whether usage going from `old` to `new` bytes crosses a warning threshold (a percentage of
-- `lim`); numeric, because bytes * 100 can overflow bigint.
CREATE FUNCTION cp_crossed(old bigint, new bigint, lim bigint, percents int[])
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT lim IS NOT NULL AND EXISTS (
        SELECT 1 FROM unnest(percents) AS p
        WHERE old::numeric * 100 < p::numeric * lim AND new::numeric * 100 >= p::numeric * lim)
$$;
