package nexmark

import (
	"fmt"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/streamsql/streamsql/types"
)

func rows(b arrow.RecordBatch) []string {
	out := make([]string, b.NumRows())
	for r := range out {
		var s string
		for c := 0; c < int(b.NumCols()); c++ {
			s += fmt.Sprint(types.DatumAt(b.Column(c), r)) + "|"
		}
		out[r] = s
	}
	return out
}

// all reads every event of a kind, shard by shard, in pieces of n.
func all(g *Generator, kind, n int) []string {
	var out []string
	for sh := 0; sh < g.cfg.Shards; sh++ {
		for from := uint64(0); from < g.ShardLen(kind, sh); from += uint64(n) {
			k := int(min(uint64(n), g.ShardLen(kind, sh)-from))
			b, times := g.Read(memory.DefaultAllocator, kind, sh, from, k)
			if len(times) != k || int(b.NumRows()) != k {
				panic("short read")
			}
			out = append(out, rows(b)...)
			b.Release()
		}
	}
	return out
}

// The events are a function of the seed alone: read in any pieces, over
// any number of shards, they are the same; another seed gives others.
func TestDeterministic(t *testing.T) {
	base := Config{Events: 5_003, Rate: 1000, Seed: 7, Base: DefaultBase}
	for kind := range Names {
		one := all(New(base), kind, 1<<20)
		for _, shards := range []int{1, 3} {
			for _, piece := range []int{1, 17} {
				cfg := base
				cfg.Shards = shards
				got := all(New(cfg), kind, piece)
				a, b := append([]string(nil), one...), got
				sort.Strings(a)
				sort.Strings(b)
				if fmt.Sprint(a) != fmt.Sprint(b) {
					t.Fatalf("%s: %d shards in pieces of %d differ", Names[kind], shards, piece)
				}
			}
		}
		other := base
		other.Seed = 8
		if fmt.Sprint(all(New(other), kind, 100)) == fmt.Sprint(one) {
			t.Fatalf("%s: seed changes nothing", Names[kind])
		}
	}
}

// One person, three auctions and forty-six bids in every fifty events;
// ids count up from 1000; bids and auctions refer to people and auctions
// that exist by then (or are a few ids ahead); event times follow the rate;
// sizes are the standard averages.
func TestRules(t *testing.T) {
	g := New(Config{Events: 100_000, Rate: 10_000, Seed: 1, Base: DefaultBase})
	if p, a, b := g.Count(Person), g.Count(Auction), g.Count(Bid); p != 2000 || a != 6000 || b != 92000 {
		t.Fatalf("counts %d %d %d", p, a, b)
	}
	if g2 := New(Config{Events: 53}); g2.Count(Person)+g2.Count(Auction)+g2.Count(Bid) != 53 || g2.Count(Auction) != 5 {
		t.Fatalf("partial epoch: %d %d %d", g2.Count(Person), g2.Count(Auction), g2.Count(Bid))
	}
	read := func(kind int) arrow.RecordBatch {
		b, _ := g.Read(memory.DefaultAllocator, kind, 0, 0, int(g.Count(kind)))
		return b
	}
	people, auctions, bids := read(Person), read(Auction), read(Bid)
	defer people.Release()
	defer auctions.Release()
	defer bids.Release()
	size := func(b arrow.RecordBatch, textCols ...int) float64 {
		total := 0
		for _, c := range textCols {
			for r := 0; r < int(b.NumRows()); r++ {
				total += len(types.DatumAt(b.Column(c), r).S)
			}
		}
		return float64(total) / float64(b.NumRows())
	}
	for r := 0; r < 2000; r++ {
		if id := types.DatumAt(people.Column(0), r).I; id != int64(1000+r) {
			t.Fatalf("person %d has id %d", r, id)
		}
	}
	for r := 0; r < 6000; r++ {
		if id := types.DatumAt(auctions.Column(0), r).I; id != int64(1000+r) {
			t.Fatalf("auction %d has id %d", r, id)
		}
		if c := types.DatumAt(auctions.Column(8), r).I; c < 10 || c > 14 {
			t.Fatalf("category %d", c)
		}
		if open, exp := types.DatumAt(auctions.Column(5), r).I, types.DatumAt(auctions.Column(6), r).I; exp <= open {
			t.Fatalf("auction %d expires before it opens", r)
		}
	}
	hot := 0
	for r := 0; r < int(bids.NumRows()); r++ {
		e := eventID(Bid, uint64(r))
		a, bidder := types.DatumAt(bids.Column(0), r).I, types.DatumAt(bids.Column(1), r).I
		if a-1000 > lastAuction(e)+auctionIDLead || bidder-1000 > lastPerson(e)+personIDLead {
			t.Fatalf("bid %d refers to auction %d / person %d beyond event %d", r, a, bidder, e)
		}
		if (a-1000)%hotAuctionRatio == 0 {
			hot++
		}
		if ts := types.DatumAt(bids.Column(5), r).I; ts != DefaultBase+int64(e)*100 {
			t.Fatalf("bid %d at %d, want %d", r, ts, DefaultBase+int64(e)*100)
		}
	}
	if frac := float64(hot) / float64(bids.NumRows()); frac < 0.45 || frac > 0.6 {
		t.Fatalf("%.2f of bids go to hot auctions, want about half", frac)
	}
	// the standard's sizes: text plus 8 bytes per counted number
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"person", 8 + size(people, 1, 2, 3, 4, 5, 7), 200},
		{"auction", 56 + size(auctions, 1, 2, 9), 500},
		{"bid", 32 + size(bids, 6), 100},
	} {
		if c.got < c.want*0.95 || c.got > c.want*1.05 {
			t.Errorf("%s: average size %.1f, want about %.0f", c.name, c.got, c.want)
		}
	}
}

// Reading some columns gives the same values in them as reading all (the
// random draws are the same), and NULLs in the others.
func TestReadColumns(t *testing.T) {
	g := New(Config{Events: 20_000, Rate: 1000, Shards: 2, Seed: 9})
	for kind := range Names {
		keep := make([]bool, len(Schemas[kind]))
		for i := range keep {
			keep[i] = i%2 == 1
		}
		full, _ := g.Read(memory.DefaultAllocator, kind, 1, 100, 500)
		part, _ := g.ReadColumns(memory.DefaultAllocator, kind, 1, 100, 500, keep)
		for c := range keep {
			for r := 0; r < 500; r++ {
				got := types.DatumAt(part.Column(c), r)
				if !keep[c] {
					if !got.Null {
						t.Fatalf("%s column %d not NULL", Names[kind], c)
					}
					continue
				}
				if want := types.DatumAt(full.Column(c), r); got != want {
					t.Fatalf("%s column %d row %d: %v, want %v", Names[kind], c, r, got, want)
				}
			}
		}
		full.Release()
		part.Release()
	}
}
