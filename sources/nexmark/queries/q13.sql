-- Nexmark q13, bounded side input join: each bid joined with a value from
-- a side table by auction mod 10,000, looked up as the bid arrives (a
-- lookup join: the table's later changes revise nothing).
CREATE TABLE side_input (key BIGINT PRIMARY KEY, value TEXT);

INSERT INTO side_input SELECT g, 'value-' || g FROM generate_series(0, 9999) AS g;

CREATE SINK q13 AS
SELECT b.auction, b.bidder, b.price, b.date_time, s.value
FROM bid AS b JOIN side_input AS s ON b.auction % 10000 = s.key
WITH (connector = 'blackhole', table_joins = 'lookup');
