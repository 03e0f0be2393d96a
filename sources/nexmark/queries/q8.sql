-- Nexmark q8, monitor new users: people who opened an auction in the same
-- 10-second window in which they registered (a window join).
CREATE MATERIALIZED VIEW q8 AS
SELECT DISTINCT p.id, p.name, p.window_start AS starttime
FROM TUMBLE(person, date_time, INTERVAL '10' SECOND) AS p
JOIN TUMBLE(auction, date_time, INTERVAL '10' SECOND) AS a
  ON p.id = a.seller AND p.window_start = a.window_start;
