package wire

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/planner"
)

// httpDB is an in-memory database with one stream, served over HTTP with
// the given read timeout.
func httpDB(t *testing.T, readTimeout time.Duration) (*planner.DB, string) {
	t.Helper()
	db, err := planner.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := db.NewSession("http", "db")
	for _, q := range []string{
		"CREATE STREAM ev (k TEXT, n BIGINT, x DOUBLE PRECISION, r NUMERIC, b BOOLEAN, j JSONB) WITH (shards = 2)",
	} {
		stmts, err := s.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Prepare(stmts[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Execute(context.Background(), p, nil); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(db, readTimeout)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	return db, "http://" + ln.Addr().String()
}

func stored(t *testing.T, db *planner.DB) int64 {
	t.Helper()
	s, err := db.Stream("ev")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, st := range s.Stats() {
		n += st.Records
	}
	return n
}

// TestIngestBodyLimit: a body over the limit is refused with 413 and
// nothing of it is stored (it used to be cut at the limit silently).
func TestIngestBodyLimit(t *testing.T) {
	defer func(n int64) { maxIngestBody = n }(maxIngestBody)
	maxIngestBody = 1 << 20
	db, base := httpDB(t, 0)
	line := []byte(`{"k":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","n":1}` + "\n")
	var body bytes.Buffer
	for int64(body.Len()) <= maxIngestBody {
		body.Write(line)
	}
	resp, err := http.Post(base+"/streams/ev/records", "application/x-ndjson", &body)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %s", resp.StatusCode, msg)
	}
	if n := stored(t, db); n != 0 {
		t.Fatalf("%d records stored from a refused body", n)
	}
	// a body just under the limit is stored whole
	body.Reset()
	lines := 0
	for int64(body.Len()+len(line)) <= maxIngestBody {
		body.Write(line)
		lines++
	}
	resp, err = http.Post(base+"/streams/ev/records", "application/x-ndjson", &body)
	if err != nil {
		t.Fatal(err)
	}
	var ack struct {
		Records []json.RawMessage `json:"records"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ack)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(ack.Records) != lines {
		t.Fatalf("status %d, %d acknowledged of %d: %v", resp.StatusCode, len(ack.Records), lines, err)
	}
	if n := stored(t, db); n != int64(lines) {
		t.Fatalf("stored %d of %d", n, lines)
	}
}

// TestSlowRequestTimesOut: a client that sends its body too slowly is cut
// off instead of holding the connection.
func TestSlowRequestTimesOut(t *testing.T) {
	_, base := httpDB(t, 300*time.Millisecond)
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "POST /streams/ev/records HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"k\":")
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(nc)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a stalled request open")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cut off after %v", d)
	}
}

// TestConsumeAPI: positions past the end are refused (a consumer there
// would skip records); values come back as JSON numbers, booleans and
// objects, not strings.
func TestConsumeAPI(t *testing.T) {
	_, base := httpDB(t, 0)
	resp, err := http.Get(base + "/streams/ev/shards/0/records?from=after:100")
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "past the end") {
		t.Fatalf("status %d: %s", resp.StatusCode, msg)
	}
	resp, err = http.Post(base+"/streams/ev/records", "application/json",
		strings.NewReader(`[{"k":"a","n":9007199254740993,"x":1.5,"r":"12345678901234567890.123","b":true,"j":{"a":[1,2]}},{"k":"b","x":"NaN"}]`))
	if err != nil {
		t.Fatal(err)
	}
	var ack struct {
		Records []struct {
			Shard int `json:"shard"`
		} `json:"records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ack); err != nil || len(ack.Records) != 2 {
		t.Fatalf("ack: %v %+v", err, ack)
	}
	resp.Body.Close()
	var got []string
	for shard := 0; shard < 2; shard++ {
		resp, err := http.Get(fmt.Sprintf("%s/streams/ev/shards/%d/records?from=oldest", base, shard))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Records []struct {
				Data json.RawMessage `json:"data"`
			} `json:"records"`
			Next json.RawMessage `json:"next"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, r := range out.Records {
			got = append(got, string(r.Data))
		}
		if strings.Contains(string(out.Next), `"`) {
			t.Fatalf("next is a string: %s", out.Next)
		}
	}
	want := map[string]bool{
		`{"b":true,"j":{"a":[1,2]},"k":"a","n":9007199254740993,"r":12345678901234567890.123,"x":1.5}`: true,
		`{"b":null,"j":null,"k":"b","n":null,"r":null,"x":"NaN"}`:                                      true,
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("record %s", g)
		}
	}
	if len(got) != 2 {
		t.Fatalf("got %v", got)
	}
}

// TestIngestRefusesBadText: bytes that are not UTF-8 and NUL characters
// are refused with PostgreSQL's 22021 (JSON's decoder used to store U+FFFD
// in place of the bad bytes), and \u0000 in a jsonb value with 22P05;
// nothing of the body is stored.
func TestIngestRefusesBadText(t *testing.T) {
	db, base := httpDB(t, 0)
	for body, code := range map[string]string{
		"{\"k\":\"ok\"}\n{\"k\":\"caf\xc3\"}": "22021",
		`{"k":"a\u0000b"}`:                    "22021",
		`{"j":{"a":"\u0000"}}`:                "22P05",
	} {
		resp, err := http.Post(base+"/streams/ev/records", "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Code, Error string }
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusBadRequest || e.Code != code {
			t.Errorf("%q: status %d, %+v, %v; want 400 %s", body, resp.StatusCode, e, err, code)
		}
	}
	if n := stored(t, db); n != 0 {
		t.Fatalf("%d records stored from refused bodies", n)
	}
	resp, err := http.Post(base+"/streams/ev/records", "application/json", strings.NewReader(`[{"k":"caf\u00e9 \u2603"}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || stored(t, db) != 1 {
		t.Fatalf("valid text: status %d", resp.StatusCode)
	}
}
