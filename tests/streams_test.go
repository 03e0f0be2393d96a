package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type ack struct {
	Shard int    `json:"shard"`
	Seq   uint64 `json:"sequence_number"`
}

func postRecords(url, body string) ([]ack, int, error) {
	resp, err := http.Post(url, "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Records []ack  `json:"records"`
		Code    string `json:"code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode != 200 {
		return nil, resp.StatusCode, fmt.Errorf("%d %s", resp.StatusCode, out.Code)
	}
	return out.Records, 200, nil
}

func TestHTTPIngest(t *testing.T) {
	hp := freePort(t)
	s := startServer(t, "--http", fmt.Sprintf("127.0.0.1:%d", hp))
	ctx := context.Background()
	c := s.connect(t)
	if _, err := c.Exec(ctx, "CREATE STREAM prices (symbol TEXT, price DOUBLE PRECISION, ts TIMESTAMPTZ, meta JSONB) WITH (shards = 2, partition_by = 'symbol')"); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/streams/prices/records", hp)
	acks, _, err := postRecords(url, `{"symbol":"BTC","price":64000.5,"ts":"2026-01-01T00:00:01Z","meta":{"src":"x"}}
{"symbol":"BTC","price":64001}`)
	if err != nil || len(acks) != 2 || acks[0].Shard != acks[1].Shard || acks[1].Seq != acks[0].Seq+1 {
		t.Fatalf("JSON lines: %v %v", acks, err)
	}
	if acks, _, err = postRecords(url, `[{"symbol":"ETH","price":3000}]`); err != nil || len(acks) != 1 {
		t.Fatalf("JSON array: %v %v", acks, err)
	}
	if _, code, _ := postRecords(url, `[{"symbol":"X","price":"not a number"}]`); code != 400 {
		t.Errorf("bad value: status %d", code)
	}
	if _, code, _ := postRecords(url, `{"nope":1}`); code != 400 {
		t.Errorf("unknown column: status %d", code)
	}
	if _, code, _ := postRecords(fmt.Sprintf("http://127.0.0.1:%d/streams/missing/records", hp), `{"a":1}`); code != 404 {
		t.Errorf("unknown stream: status %d", code)
	}
	var n int
	var meta string
	if err := c.QueryRow(ctx, "SELECT count(*), max(meta::text) FROM prices").Scan(&n, &meta); err != nil || n != 3 || meta != `{"src": "x"}` {
		t.Fatalf("count %d meta %q %v", n, meta, err)
	}
	// independent consumers read a shard from their own positions
	shardURL := fmt.Sprintf("http://127.0.0.1:%d/streams/prices/shards/%d/records", hp, acks[0].Shard)
	read := func(q string) (recs []map[string]any, next uint64) {
		resp, err := http.Get(shardURL + "?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Records []map[string]any `json:"records"`
			Next    uint64           `json:"next"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Records, out.Next
	}
	all, next := read("from=oldest")
	if len(all) == 0 {
		t.Fatal("nothing read from the trim horizon")
	}
	if rest, _ := read(fmt.Sprintf("from=after:%d", uint64(all[0]["sequence_number"].(float64)))); len(rest) != len(all)-1 {
		t.Fatalf("after: %d records, want %d", len(rest), len(all)-1)
	}
	// a consumer waiting at the tail gets a new record as soon as it is written
	done := make(chan int, 1)
	go func() {
		recs, _ := read(fmt.Sprintf("from=%d&wait=10s", next))
		done <- len(recs)
	}()
	time.Sleep(100 * time.Millisecond)
	sym := "ETH"
	if all[0]["data"].(map[string]any)["symbol"] == "BTC" {
		sym = "BTC"
	}
	if _, _, err := postRecords(url, fmt.Sprintf(`{"symbol":%q,"price":1}`, sym)); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-done:
		if n != 1 {
			t.Fatalf("tail read got %d records", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tail reader not woken")
	}
}

// kill -9 during a heavy write: every acknowledged record is there exactly
// once, in order per shard, with the sequence number it was given.
func TestStreamKillNine(t *testing.T) {
	hp := freePort(t)
	s := startServer(t, "--http", fmt.Sprintf("127.0.0.1:%d", hp))
	ctx := context.Background()
	c := s.connect(t)
	if _, err := c.Exec(ctx, "CREATE STREAM events (id BIGINT, payload TEXT) WITH (shards = 4, partition_by = 'id')"); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/streams/events/records", hp)
	var mu sync.Mutex
	acked := map[int64]ack{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for batch := 0; ; batch++ {
				select {
				case <-stop:
					return
				default:
				}
				var body bytes.Buffer
				ids := make([]int64, 50)
				for i := range ids {
					ids[i] = int64(w)<<32 | int64(batch*50+i)
					fmt.Fprintf(&body, `{"id": %d, "payload": "p%d"}`+"\n", ids[i], ids[i])
				}
				acks, _, err := postRecords(url, body.String())
				if err != nil {
					return // the server died: this batch was not acknowledged
				}
				mu.Lock()
				for i, a := range acks {
					acked[ids[i]] = a
				}
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	s.kill()
	close(stop)
	wg.Wait()
	s.start()
	c2 := s.connect(t)
	rows, err := c2.Query(ctx, "SELECT id, _shard, _seq FROM events")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]ack{}
	perShard := map[int]map[uint64]bool{}
	for rows.Next() {
		var id, seq int64
		var shard int32
		if err := rows.Scan(&id, &shard, &seq); err != nil {
			t.Fatal(err)
		}
		if _, dup := seen[id]; dup {
			t.Fatalf("record %d stored twice", id)
		}
		seen[id] = ack{Shard: int(shard), Seq: uint64(seq)}
		if perShard[int(shard)] == nil {
			perShard[int(shard)] = map[uint64]bool{}
		}
		if perShard[int(shard)][uint64(seq)] {
			t.Fatalf("shard %d sequence %d used twice", shard, seq)
		}
		perShard[int(shard)][uint64(seq)] = true
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(acked) < 100 {
		t.Fatalf("only %d records were acknowledged before the kill", len(acked))
	}
	for id, a := range acked {
		got, ok := seen[id]
		if !ok {
			t.Fatalf("acknowledged record %d lost (%d acknowledged, %d stored)", id, len(acked), len(seen))
		}
		if got != a {
			t.Fatalf("record %d moved from %+v to %+v", id, a, got)
		}
	}
	t.Logf("%d acknowledged, %d stored after kill -9", len(acked), len(seen))
}
