-- Nexmark q3, local item suggestion: sellers in OR, ID or CA of auctions
-- in category 10. A join of two streams with no time bound: both are kept
-- (the source is bounded), as in every engine's q3.
CREATE MATERIALIZED VIEW q3 WITH (stream_joins = 'unbounded') AS
SELECT p.name, p.city, p.state, a.id
FROM auction AS a JOIN person AS p ON a.seller = p.id
WHERE a.category = 10 AND (p.state = 'OR' OR p.state = 'ID' OR p.state = 'CA');
