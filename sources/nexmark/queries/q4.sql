-- Nexmark q4, average price per category: the winning bid of each auction
-- (the highest bid while it was open), averaged per category. Two levels
-- of GROUP BY in one view: the outer one runs over the inner one's changes.
-- The join is bounded by each auction's life: an auction is dropped once
-- the bids' watermark passes its expiry, a bid once the auctions' passes it.
CREATE MATERIALIZED VIEW q4 AS
SELECT category, avg(final) AS avg FROM (
  SELECT a.id, a.category, max(b.price) AS final
  FROM (SELECT id, category, date_time, expires FROM auction) AS a
  JOIN (SELECT auction, price, date_time FROM bid) AS b
    ON a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires
  GROUP BY a.id, a.category) AS q
GROUP BY category;
