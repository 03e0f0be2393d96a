-- Nexmark q0, pass-through: every bid, unchanged.
CREATE SINK q0 AS SELECT auction, bidder, price, date_time FROM bid WITH (connector = 'blackhole');
