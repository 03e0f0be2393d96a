-- Nexmark q7, highest bid: the bids with the highest price in each
-- 10-second window (every bid tied for it).
CREATE MATERIALIZED VIEW q7 AS
SELECT auction, price, bidder, date_time FROM (
  SELECT auction, price, bidder, date_time,
         rank() OVER (PARTITION BY window_start ORDER BY price DESC) AS rn
  FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND)
) AS ranked
WHERE rn <= 1;
