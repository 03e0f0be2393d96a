package exec

import (
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/streamsql/streamsql/engine/expr"
	"github.com/streamsql/streamsql/types"
)

// grouper maps rows to dense group ids.
type grouper interface {
	assign(keys []expr.Value, n int, gids []int32)
	groups() int
	addEmpty()
	keyColumns(ctx *expr.Ctx) []arrow.Array
}

func newGrouper(ts []types.T) grouper {
	if len(ts) == 0 {
		return &noKeyGrouper{}
	}
	if len(ts) == 1 {
		switch ts[0].Kind {
		case types.Int64, types.Oid, types.Timestamp, types.TimestampTZ, types.Int32, types.Date, types.Int16:
			return newIntGrouper(ts[0])
		}
	}
	return &datumGrouper{ts: ts, index: map[string]int32{}}
}

type noKeyGrouper struct{ n int }

func (g *noKeyGrouper) assign(_ []expr.Value, n int, gids []int32) {
	if n > 0 {
		g.n = 1
	}
	for i := range gids {
		gids[i] = 0
	}
}
func (g *noKeyGrouper) groups() int                        { return g.n }
func (g *noKeyGrouper) addEmpty()                          { g.n = 1 }
func (g *noKeyGrouper) keyColumns(*expr.Ctx) []arrow.Array { return nil }

// intGrouper is an open-addressing hash table on one integer-like key: the
// hot path of windowed and keyed aggregation.
type intGrouper struct {
	t        types.T
	slots    []int32 // group id + 1, 0 = empty
	slotKeys []int64 // the key in each used slot, next to its id for the probe
	keys     []int64 // per group
	mask     uint64
	shift    uint
	nullID   int32 // group id + 1 of the NULL key
}

func newIntGrouper(t types.T) *intGrouper {
	g := &intGrouper{t: t}
	g.resize(1024)
	return g
}

func (g *intGrouper) resize(size int) {
	g.slots = make([]int32, size)
	g.slotKeys = make([]int64, size)
	g.mask = uint64(size - 1)
	g.shift = uint(64 - bits.Len64(uint64(size)-1))
}

// slot is Fibonacci hashing: the top bits of k times 2^64/φ.
func (g *intGrouper) slot(k int64) uint64 {
	return (uint64(k) * 0x9E3779B97F4A7C15) >> g.shift
}

func (g *intGrouper) grow() {
	g.resize(len(g.slots) * 2)
	for id, k := range g.keys {
		if int32(id+1) == g.nullID {
			continue
		}
		h := g.slot(k)
		for g.slots[h] != 0 {
			h = (h + 1) & g.mask
		}
		g.slots[h] = int32(id + 1)
		g.slotKeys[h] = k
	}
}

// lookup finds or adds the group of key k.
func (g *intGrouper) lookup(k int64) int32 {
	h := g.slot(k)
	for {
		s := g.slots[h]
		if s == 0 {
			id := int32(len(g.keys))
			g.keys = append(g.keys, k)
			g.slots[h] = id + 1
			g.slotKeys[h] = k
			if uint64(len(g.keys))*4 > g.mask {
				g.grow()
			}
			return id
		}
		if g.slotKeys[h] == k {
			return s - 1
		}
		h = (h + 1) & g.mask
	}
}

func (g *intGrouper) null() int32 {
	if g.nullID == 0 {
		g.keys = append(g.keys, 0)
		g.nullID = int32(len(g.keys))
	}
	return g.nullID - 1
}

func (g *intGrouper) assign(keys []expr.Value, n int, gids []int32) {
	v := keys[0]
	if v.IsScalar() {
		id := g.null()
		if !v.D.Null {
			id = g.lookup(v.D.I)
		}
		for i := range gids {
			gids[i] = id
		}
		return
	}
	switch g.t.Kind {
	case types.Int32, types.Date:
		vals := expr.FixedValues[int32](v.Arr)
		for i := 0; i < n; i++ {
			if v.Arr.IsNull(i) {
				gids[i] = g.null()
			} else {
				gids[i] = g.lookup(int64(vals[i]))
			}
		}
	case types.Int16:
		vals := expr.FixedValues[int16](v.Arr)
		for i := 0; i < n; i++ {
			if v.Arr.IsNull(i) {
				gids[i] = g.null()
			} else {
				gids[i] = g.lookup(int64(vals[i]))
			}
		}
	default:
		vals := expr.FixedValues[int64](v.Arr)
		if v.Arr.NullN() == 0 {
			for i := 0; i < n; i++ {
				// the probe inline; lookup only inserts
				k := vals[i]
				slots, slotKeys, mask := g.slots, g.slotKeys, g.mask
				h := (uint64(k) * 0x9E3779B97F4A7C15) >> g.shift
				for {
					s := slots[h]
					if s == 0 {
						gids[i] = g.lookup(k)
						break
					}
					if slotKeys[h] == k {
						gids[i] = s - 1
						break
					}
					h = (h + 1) & mask
				}
			}
			return
		}
		for i := 0; i < n; i++ {
			if v.Arr.IsNull(i) {
				gids[i] = g.null()
			} else {
				gids[i] = g.lookup(vals[i])
			}
		}
	}
}

func (g *intGrouper) groups() int { return len(g.keys) }
func (g *intGrouper) addEmpty()   {}
func (g *intGrouper) keyColumns(ctx *expr.Ctx) []arrow.Array {
	n := len(g.keys)
	var valid []byte
	nulls := 0
	if g.nullID != 0 {
		valid = make([]byte, (n+7)/8)
		for i := 0; i < n; i++ {
			if int32(i+1) != g.nullID {
				valid[i>>3] |= 1 << (i & 7)
			}
		}
		nulls = 1
	}
	switch g.t.Kind {
	case types.Int32, types.Date:
		out := make([]int32, n)
		for i, k := range g.keys {
			out[i] = int32(k)
		}
		return []arrow.Array{expr.NewFixed(g.t, out, valid, nulls)}
	case types.Int16:
		out := make([]int16, n)
		for i, k := range g.keys {
			out[i] = int16(k)
		}
		return []arrow.Array{expr.NewFixed(g.t, out, valid, nulls)}
	}
	return []arrow.Array{expr.NewFixed(g.t, append([]int64(nil), g.keys...), valid, nulls)}
}

// datumGrouper groups on any key columns through an encoded key.
type datumGrouper struct {
	ts    []types.T
	index map[string]int32
	rows  [][]types.Datum
}

func (g *datumGrouper) assign(keys []expr.Value, n int, gids []int32) {
	var buf []byte
	for i := 0; i < n; i++ {
		buf = buf[:0]
		for k, v := range keys {
			buf = AppendKey(buf, g.ts[k], v.At(i))
		}
		id, ok := g.index[string(buf)]
		if !ok {
			id = int32(len(g.rows))
			g.index[string(buf)] = id
			row := make([]types.Datum, len(keys))
			for k, v := range keys {
				row[k] = v.At(i)
			}
			g.rows = append(g.rows, row)
		}
		gids[i] = id
	}
}

func (g *datumGrouper) groups() int { return len(g.rows) }
func (g *datumGrouper) addEmpty()   {}
func (g *datumGrouper) keyColumns(ctx *expr.Ctx) []arrow.Array {
	out := make([]arrow.Array, len(g.ts))
	for k, t := range g.ts {
		b := types.NewBuilder(ctx.Mem, t)
		b.Reserve(len(g.rows))
		for _, r := range g.rows {
			types.AppendDatum(b, t, r[k])
		}
		out[k] = b.NewArray()
		b.Release()
	}
	return out
}

func newSlice(a arrow.Array, i, j int) arrow.Array {
	return array.NewSlice(a, int64(i), int64(j))
}
