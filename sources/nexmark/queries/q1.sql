-- Nexmark q1, currency conversion: bid prices in euros.
CREATE SINK q1 AS SELECT auction, bidder, 0.908 * price AS price, date_time FROM bid WITH (connector = 'blackhole');
