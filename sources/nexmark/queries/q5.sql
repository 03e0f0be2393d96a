-- Nexmark q5, hot items: the auctions with the most bids in each 10-second
-- window sliding every 2 seconds (every auction tied for the most).
CREATE MATERIALIZED VIEW q5 AS
SELECT auction, num FROM (
  SELECT auction, num, rank() OVER (PARTITION BY starttime ORDER BY num DESC) AS rn
  FROM (
    SELECT auction, count(*) AS num, window_start AS starttime
    FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
    GROUP BY window_start, auction
  ) AS counts
) AS ranked
WHERE rn <= 1;
