-- Nexmark q4, average price per category: the winning bid of each auction
-- (the highest bid while it was open), averaged per category. Two levels
-- of GROUP BY: the inner one is a view of its own.
CREATE MATERIALIZED VIEW q4_final WITH (stream_joins = 'unbounded') AS
SELECT a.id, a.category, max(b.price) AS final
FROM (SELECT id, category, date_time, expires FROM auction) AS a
JOIN (SELECT auction, price, date_time FROM bid) AS b
  ON a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires
GROUP BY a.id, a.category;

CREATE MATERIALIZED VIEW q4 AS
SELECT category, avg(final) AS avg FROM q4_final GROUP BY category;
