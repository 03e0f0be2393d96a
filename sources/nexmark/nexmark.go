// Package nexmark generates the Nexmark benchmark's events — people
// registering, auctions opening, bids — by the rules of the standard
// generator (Apache Beam's, which Flink, RisingWave, Arroyo and Feldera
// use): one person, three auctions and forty-six bids in every fifty
// events; ids that refer to recent people and auctions, with hot sellers,
// bidders and auctions; prices spread over six orders of magnitude; event
// times spaced by a rate; an `extra` column padding each kind to its
// standard average size.
//
// Every event is computed from its number and the seed alone, so any
// range of any shard can be generated at any time, in any order, by any
// number of readers: a generated stream is replayable like a stored one
// and costs no disk. Events come out as Arrow columns directly.
package nexmark

import (
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

// Kinds of events, each a stream of its own.
const (
	Person = iota
	Auction
	Bid
)

// Names are the streams' names, by kind.
var Names = [3]string{"person", "auction", "bid"}

// Column is a stream column.
type Column struct {
	Name string
	Type types.T
}

// Schemas are the streams' columns, by kind (the names RisingWave and
// Flink's Nexmark use).
var Schemas = [3][]Column{
	Person: {{"id", types.TInt64}, {"name", types.TText}, {"email_address", types.TText}, {"credit_card", types.TText},
		{"city", types.TText}, {"state", types.TText}, {"date_time", types.TTimestamp}, {"extra", types.TText}},
	Auction: {{"id", types.TInt64}, {"item_name", types.TText}, {"description", types.TText}, {"initial_bid", types.TInt64},
		{"reserve", types.TInt64}, {"date_time", types.TTimestamp}, {"expires", types.TTimestamp}, {"seller", types.TInt64},
		{"category", types.TInt64}, {"extra", types.TText}},
	Bid: {{"auction", types.TInt64}, {"bidder", types.TInt64}, {"price", types.TInt64}, {"channel", types.TText},
		{"url", types.TText}, {"date_time", types.TTimestamp}, {"extra", types.TText}},
}

// TimeColumn is each kind's event-time column.
var TimeColumn = [3]int{Person: 6, Auction: 5, Bid: 5}

// The standard generator's constants.
const (
	personProportion  = 1
	auctionProportion = 3
	bidProportion     = 46
	totalProportion   = personProportion + auctionProportion + bidProportion

	firstPersonID   = 1000
	firstAuctionID  = 1000
	firstCategoryID = 10
	numCategories   = 5

	numActivePeople      = 1000 // bids and auctions refer to the latest people
	personIDLead         = 10   // ... or a few not yet registered
	numInFlightAuctions  = 100  // bids refer to the latest auctions
	auctionIDLead        = 10
	hotAuctionRatio      = 100 // hot auctions are every 100th
	hotBidderRatio       = 100
	hotSellerRatio       = 100
	hotAuctionProportion = 2 // 1 bid in 2 goes to a hot auction
	hotBidderProportion  = 4 // 3 in 4 come from a hot bidder
	hotSellerProportion  = 4 // 3 auctions in 4 from a hot seller
	hotChannelRatio      = 2
	numChannels          = 10_000

	avgPersonBytes  = 200
	avgAuctionBytes = 500
	avgBidBytes     = 100
)

var (
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	cities     = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	states     = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	hotChans   = []string{"Google", "Facebook", "Baidu", "Apple"}
)

// Config says which events to generate.
type Config struct {
	Events uint64  // events of all kinds
	Rate   float64 // events per second of event time
	Shards int     // shards per stream; event i of a kind goes to shard i mod Shards
	Seed   uint64
	Base   int64 // event time of the first event, µs since the epoch
}

// DefaultBase is 2026-01-01 00:00:00 UTC.
const DefaultBase = 1767225600_000_000

// Generator produces the events of a Config.
type Generator struct {
	cfg  Config
	pool []byte // random letters: strings are slices of it at random offsets
}

// New returns a generator (Rate and Shards default to 10,000 and 1).
func New(cfg Config) *Generator {
	if cfg.Rate <= 0 {
		cfg.Rate = 10_000
	}
	if cfg.Shards < 1 {
		cfg.Shards = 1
	}
	g := &Generator{cfg: cfg, pool: make([]byte, 1<<16)}
	r := rng(cfg.Seed ^ 0x5eed)
	for i := range g.pool {
		g.pool[i] = 'a' + byte(r.intn(26))
	}
	return g
}

// Config returns the generator's configuration.
func (g *Generator) Config() Config { return g.cfg }

// Count is the number of events of a kind among the first Events.
func (g *Generator) Count(kind int) uint64 {
	n := g.cfg.Events
	full, rest := n/totalProportion, n%totalProportion
	lo, per := kindRange(kind)
	count := full * per
	if rest > lo {
		count += min(rest-lo, per)
	}
	return count
}

// kindRange is where a kind's events sit in every fifty: the first offset
// and how many.
func kindRange(kind int) (uint64, uint64) {
	switch kind {
	case Person:
		return 0, personProportion
	case Auction:
		return personProportion, auctionProportion
	}
	return personProportion + auctionProportion, bidProportion
}

// ShardLen is the number of events of a kind in one shard.
func (g *Generator) ShardLen(kind, shard int) uint64 {
	n, s := g.Count(kind), uint64(g.cfg.Shards)
	if uint64(shard) >= n {
		return 0
	}
	return (n - uint64(shard) + s - 1) / s
}

// eventID is the number (among all events) of the i-th event of a kind.
func eventID(kind int, i uint64) uint64 {
	lo, per := kindRange(kind)
	return i/per*totalProportion + lo + i%per
}

// Time is the event time of event number e (µs).
func (g *Generator) Time(e uint64) int64 {
	return g.cfg.Base + int64(float64(e)*1e6/g.cfg.Rate)
}

// lastPerson is the base-0 id of the latest person at event e.
func lastPerson(e uint64) int64 {
	epoch, off := e/totalProportion, e%totalProportion
	if off >= personProportion {
		off = personProportion - 1
	}
	return int64(epoch*personProportion + off)
}

// lastAuction is the base-0 id of the latest auction at event e.
func lastAuction(e uint64) int64 {
	epoch, off := int64(e/totalProportion), int64(e%totalProportion)
	switch {
	case off < personProportion:
		epoch-- // the previous fifty's last auction
		off = auctionProportion - 1
	case off >= personProportion+auctionProportion:
		off = auctionProportion - 1
	default:
		off -= personProportion
	}
	return epoch*auctionProportion + off
}

// nextPerson picks a person who has registered lately (or is about to).
func nextPerson(e uint64, r *rng) int64 {
	n := lastPerson(e) + 1
	active := min(n, numActivePeople)
	return n - active + r.int63n(active+personIDLead)
}

// nextAuction picks an auction still in flight (or about to open).
func nextAuction(e uint64, r *rng) int64 {
	last := lastAuction(e)
	lo := max(last-numInFlightAuctions, 0)
	return lo + r.int63n(last-lo+1+auctionIDLead)
}

// nextPrice spreads prices over six orders of magnitude (cents).
func nextPrice(r *rng) int64 {
	return int64(math.Round(math.Exp(r.float()*6*math.Ln10) * 100)) // 10^(6x), cheaper than Pow
}

// Read generates events [from, from+n) of a kind's shard (indexes within
// the shard, from 0) as a batch of the kind's columns, with each event's
// time (its arrival).
func (g *Generator) Read(mem memory.Allocator, kind, shard int, from uint64, n int) (arrow.RecordBatch, []int64) {
	return g.ReadColumns(mem, kind, shard, from, n, nil)
}

// ReadColumns is Read that fills only the columns keep marks (nil: all);
// the others are NULL.
func (g *Generator) ReadColumns(mem memory.Allocator, kind, shard int, from uint64, n int, keep []bool) (arrow.RecordBatch, []int64) {
	cols := newColumns(kind, n, keep)
	times := make([]int64, n)
	s := uint64(g.cfg.Shards)
	for k := 0; k < n; k++ {
		e := eventID(kind, (from+uint64(k))*s+uint64(shard))
		r := rng(g.cfg.Seed*0x9E3779B97F4A7C15 ^ e*0xBF58476D1CE4E5B9)
		t := g.Time(e)
		times[k] = t
		switch kind {
		case Person:
			g.person(cols, e, t, &r)
		case Auction:
			g.auction(cols, e, t, &r)
		default:
			g.bid(cols, e, t, &r)
		}
	}
	return cols.batch(Schemas[kind], n), times
}

func (g *Generator) person(c *columns, e uint64, t int64, r *rng) {
	c.int(0, lastPerson(e)+firstPersonID)
	size := 8 // the standard counts the id and the text
	size += c.str(1, firstNames[r.intn(len(firstNames))], " ", lastNames[r.intn(len(lastNames))])
	size += c.str(2, g.word(r, 7), "@", g.word(r, 5), ".com")
	var cc [19]byte
	for i := range cc {
		if i%5 == 4 {
			cc[i] = ' '
		} else {
			cc[i] = '0' + byte(r.intn(10))
		}
	}
	size += c.str(3, unsafe.String(&cc[0], len(cc)))
	size += c.str(4, cities[r.intn(len(cities))])
	size += c.str(5, states[r.intn(len(states))])
	c.int(6, t)
	c.str(7, g.extra(r, size, avgPersonBytes))
}

func (g *Generator) auction(c *columns, e uint64, t int64, r *rng) {
	c.int(0, lastAuction(e)+firstAuctionID)
	size := 8 * 7
	size += c.str(1, g.word(r, 20))
	size += c.str(2, g.word(r, 100))
	initial := nextPrice(r)
	c.int(3, initial)
	c.int(4, initial+nextPrice(r))
	c.int(5, t)
	// open until a time within twice the span of the next hundred
	// auctions' worth of events
	horizon := g.Time(e+numInFlightAuctions*totalProportion/auctionProportion) - t
	c.int(6, t+1+r.int63n(max(2*horizon, 1)))
	seller := nextPerson(e, r)
	if r.intn(hotSellerProportion) > 0 {
		seller = lastPerson(e) / hotSellerRatio * hotSellerRatio
	}
	c.int(7, seller+firstPersonID)
	c.int(8, firstCategoryID+int64(r.intn(numCategories)))
	c.str(9, g.extra(r, size, avgAuctionBytes))
}

func (g *Generator) bid(c *columns, e uint64, t int64, r *rng) {
	auction := nextAuction(e, r)
	if r.intn(hotAuctionProportion) > 0 {
		auction = lastAuction(e) / hotAuctionRatio * hotAuctionRatio
	}
	bidder := nextPerson(e, r)
	if r.intn(hotBidderProportion) > 0 {
		bidder = lastPerson(e)/hotBidderRatio*hotBidderRatio + 1
	}
	c.int(0, auction+firstAuctionID)
	c.int(1, bidder+firstPersonID)
	c.int(2, nextPrice(r))
	size := 8 * 4 // the standard counts the four numbers (channel and url came later)
	var num [8]byte
	if r.intn(hotChannelRatio) > 0 {
		ch := r.intn(len(hotChans))
		c.str(3, hotChans[ch])
		c.str(4, "https://www.nexmark.com/", g.word(r, 5), "/", g.word(r, 5), "/", g.word(r, 5), "/item.htm?query=1")
	} else {
		id := itoa(num[:], r.intn(numChannels))
		c.str(3, "channel-", id)
		c.str(4, "https://www.nexmark.com/", g.word(r, 5), "/", g.word(r, 5), "/", g.word(r, 5), "/item.htm?query=1&channel_id=", id)
	}
	c.int(5, t)
	c.str(6, g.extra(r, size, avgBidBytes))
}

// word is n random letters (a slice of the pool).
func (g *Generator) word(r *rng, n int) string {
	at := r.intn(len(g.pool) - n)
	return unsafe.String(&g.pool[at], n)
}

// extra pads an event of size bytes to about avg: a length within 20% of
// the shortfall.
func (g *Generator) extra(r *rng, size, avg int) string {
	if size >= avg {
		return ""
	}
	want := avg - size
	delta := int(math.Round(float64(want) * 0.2))
	return g.word(r, want-delta+r.intn(2*delta+1))
}

func itoa(buf []byte, v int) string {
	i := len(buf)
	for {
		i--
		buf[i] = '0' + byte(v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(buf[i:])
}

// rng is splitmix64: one per event, seeded by the event's number, so each
// event is the same whoever generates it.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9E3779B97F4A7C15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *rng) int63n(n int64) int64 { return int64(r.next() % uint64(n)) }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// columns accumulates a batch: integers and timestamps as int64, text as
// offsets and bytes.
type columns struct {
	ints [][]int64
	offs [][]int32
	data [][]byte
	skip []bool // columns nobody reads: computed (the random draws are the same) but not kept
}

// textWidths are the text columns' average widths, by kind and column:
// each batch's buffers are allocated once, at about the right size.
var textWidths = [3][]int{
	Person:  {1: 13, 2: 18, 3: 19, 4: 8, 5: 2, 7: 140},
	Auction: {1: 20, 2: 100, 9: 360},
	Bid:     {3: 10, 4: 64, 6: 70},
}

func newColumns(kind int, n int, keep []bool) *columns {
	schema := Schemas[kind]
	c := &columns{ints: make([][]int64, len(schema)), offs: make([][]int32, len(schema)), data: make([][]byte, len(schema)), skip: make([]bool, len(schema))}
	for i, col := range schema {
		if keep != nil && !keep[i] {
			c.skip[i] = true
			continue
		}
		if col.Type.Kind == types.Text {
			c.offs[i] = append(make([]int32, 0, n+1), 0)
			c.data[i] = make([]byte, 0, n*(textWidths[kind][i]+textWidths[kind][i]/4+1))
		} else {
			c.ints[i] = make([]int64, 0, n)
		}
	}
	return c
}

func (c *columns) int(i int, v int64) {
	if !c.skip[i] {
		c.ints[i] = append(c.ints[i], v)
	}
}

// str appends the concatenation of parts to text column i; it returns its
// length.
func (c *columns) str(i int, parts ...string) int {
	if c.skip[i] {
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		return n
	}
	d := c.data[i]
	at := len(d)
	for _, p := range parts {
		d = append(d, p...)
	}
	c.data[i] = d
	c.offs[i] = append(c.offs[i], int32(len(d)))
	return len(d) - at
}

func (c *columns) batch(schema []Column, n int) arrow.RecordBatch {
	fields := make([]arrow.Field, len(schema))
	cols := make([]arrow.Array, len(schema))
	for i, col := range schema {
		dt := types.ArrowType(col.Type)
		fields[i] = arrow.Field{Name: col.Name, Type: dt, Nullable: true}
		if c.skip[i] {
			cols[i] = types.NullColumn(dt, n)
			continue
		}
		var bufs []*memory.Buffer
		if c.offs[i] != nil {
			offs := c.offs[i]
			bufs = []*memory.Buffer{nil, memory.NewBufferBytes(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(offs))), len(offs)*4)), memory.NewBufferBytes(c.data[i])}
		} else {
			vals := c.ints[i]
			bufs = []*memory.Buffer{nil, memory.NewBufferBytes(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals)*8))}
		}
		data := array.NewData(dt, n, bufs, nil, 0, 0)
		cols[i] = array.MakeFromData(data)
		data.Release()
	}
	b := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(n))
	for _, a := range cols {
		a.Release()
	}
	return b
}

// KindGenerator is one kind's stream (a streamstore.Generator).
type KindGenerator struct {
	g    *Generator
	kind int
}

// Kind returns the generator of one kind's stream.
func (g *Generator) Kind(kind int) KindGenerator { return KindGenerator{g, kind} }

// Len is the number of events of the kind in a shard.
func (k KindGenerator) Len(shard int) uint64 { return k.g.ShardLen(k.kind, shard) }

// Read generates events of the kind's shard, the columns keep marks (nil: all).
func (k KindGenerator) Read(mem memory.Allocator, shard int, from uint64, n int, keep []bool) (arrow.RecordBatch, []int64) {
	return k.g.ReadColumns(mem, k.kind, shard, from, n, keep)
}
