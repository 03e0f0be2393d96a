// Package generator makes synthetic streams: the crypto demo's price feed
// and a retailer's bitcoin payments. Rows are produced at a rate in
// event time (now, or a given clock) and handed to a sink, which appends
// them to a stream.
package generator

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/streamsql/streamsql/types"
)

// Sink receives generated rows.
type Sink func(rows [][]types.Datum) error

// Symbols are the demo's coins and their starting prices in USD.
var Symbols = []struct {
	Symbol string
	Start  float64
}{{"BTC", 64000}, {"ETH", 3200}, {"SOL", 150}}

// Countries are the shipping countries, with the first octet of the IP
// addresses their clients use.
var Countries = []struct {
	Country string
	Prefix  string
}{{"DE", "81"}, {"FR", "90"}, {"US", "23"}, {"GB", "86"}, {"JP", "126"}, {"BR", "177"}}

// Customer is one of the retailer's customers: a bitcoin address, a
// name, a home country and the amount they usually pay.
type Customer struct {
	Address, Name, Country string
	UsualBTC               float64
}

// Customers returns n customers, the same for a seed.
func Customers(n int, seed uint64) []Customer {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]Customer, n)
	for i := range out {
		out[i] = Customer{
			Address:  fmt.Sprintf("bc1q%08x%04x", r.Uint32(), i),
			Name:     fmt.Sprintf("customer-%03d", i),
			Country:  Countries[r.IntN(len(Countries))].Country,
			UsualBTC: math.Round((0.0005+r.Float64()*0.02)*1e8) / 1e8,
		}
	}
	return out
}

// Prices emits a random walk of prices for every symbol, ticksPerSecond
// ticks per second per symbol, stamped with the wall clock (µs), until ctx ends.
// Rows: symbol TEXT, price DOUBLE PRECISION, ts TIMESTAMP.
func Prices(ctx context.Context, seed uint64, ticksPerSecond int, sink Sink) error {
	r := rand.New(rand.NewPCG(seed, 2))
	price := make([]float64, len(Symbols))
	for i, s := range Symbols {
		price[i] = s.Start
	}
	t := time.NewTicker(time.Second / time.Duration(ticksPerSecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			rows := make([][]types.Datum, len(Symbols))
			for i, s := range Symbols {
				price[i] *= 1 + r.NormFloat64()*0.0008
				rows[i] = []types.Datum{types.DText(s.Symbol), types.DFloat(math.Round(price[i]*100) / 100), types.DInt(now.UnixMicro())}
			}
			if err := sink(rows); err != nil {
				return err
			}
		}
	}
}

// Payments emits perSecond payments a second from the customers: amounts
// around each customer's usual one (now and then far above it), a
// shipping country (usually the customer's), the client's IP (usually
// from the shipping country), event times up to 3 s in the past (some
// arrive out of order). Rows: order_id BIGINT, address TEXT, btc NUMERIC,
// ship_country TEXT, client_ip TEXT, ts TIMESTAMP. Order ids follow
// lastOrder (a restarted generator goes on from the last id it wrote).
func Payments(ctx context.Context, seed uint64, perSecond int, customers []Customer, lastOrder int64, sink Sink) error {
	r := rand.New(rand.NewPCG(seed, 3+uint64(lastOrder)))
	order := lastOrder
	t := time.NewTicker(time.Second / time.Duration(perSecond))
	defer t.Stop()
	prefix := map[string]string{}
	for _, c := range Countries {
		prefix[c.Country] = c.Prefix
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			c := customers[r.IntN(len(customers))]
			btc := c.UsualBTC * math.Exp(r.NormFloat64()*0.3)
			if r.IntN(25) == 0 {
				btc *= 8 + r.Float64()*10 // far above the usual
			}
			ship := c.Country
			if r.IntN(10) == 0 {
				ship = Countries[r.IntN(len(Countries))].Country
			}
			ipCountry := ship
			if r.IntN(20) == 0 {
				ipCountry = Countries[r.IntN(len(Countries))].Country
			}
			ip := fmt.Sprintf("%s.%d.%d.%d", prefix[ipCountry], r.IntN(256), r.IntN(256), 1+r.IntN(254))
			ts := now.Add(-time.Duration(r.IntN(3000)) * time.Millisecond)
			order++
			row := []types.Datum{types.DInt(order), types.DText(c.Address), types.DText(strconv.FormatFloat(btc, 'f', 8, 64)), types.DText(ship), types.DText(ip), types.DInt(ts.UnixMicro())}
			if err := sink([][]types.Datum{row}); err != nil {
				return err
			}
		}
	}
}
