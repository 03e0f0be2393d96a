package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// maxIngestBody bounds one ingest request (a variable for tests).
var maxIngestBody int64 = 64 << 20

// HTTP timeouts: a client that sends its request (headers and body) too
// slowly is cut off instead of holding a connection and its buffers.
const (
	httpHeaderTimeout = 5 * time.Second
	httpReadTimeout   = time.Minute
	httpIdleTimeout   = 2 * time.Minute
)

// NewHTTPServer returns the HTTP API server for db (see HTTPHandler), with
// timeouts on slow requests; readTimeout 0 is a minute.
func NewHTTPServer(db *planner.DB, readTimeout time.Duration) *http.Server {
	if readTimeout <= 0 {
		readTimeout = httpReadTimeout
	}
	return &http.Server{Handler: HTTPHandler(db), ReadHeaderTimeout: min(httpHeaderTimeout, readTimeout),
		ReadTimeout: readTimeout, IdleTimeout: httpIdleTimeout}
}

// HTTPHandler serves the HTTP API: GET /health, GET /metrics,
// POST /streams/{name}/records with JSON lines or a JSON array of objects
// (the reply lists each record's shard and sequence number once it is
// durable), and GET /streams/{name}/shards/{shard}/records?from=&limit=&wait=
// to read a shard from any position, as an independent consumer.
func HTTPHandler(db *planner.DB) http.Handler {
	mux := http.NewServeMux()
	// profiles of the running server (the HTTP address is loopback by default)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE streamsql_catalog_objects gauge\nstreamsql_catalog_objects %d\n", len(db.Catalog.Objects()))
	})
	mux.HandleFunc("POST /streams/{name}/records", func(w http.ResponseWriter, r *http.Request) {
		// a body over the limit is refused whole: nothing of it is stored
		objs, err := decodeRecords(http.MaxBytesReader(w, r.Body, maxIngestBody))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			httpError(w, http.StatusRequestEntityTooLarge, sqlerr.New(sqlerr.ProgramLimitExceeded,
				"request body exceeds %d bytes: nothing was stored", maxIngestBody).WithHint("post the records in several requests"))
			return
		}
		if err != nil {
			if _, ok := err.(*sqlerr.Error); !ok {
				err = sqlerr.New(sqlerr.InvalidTextRep, "%v", err)
			}
			httpError(w, http.StatusBadRequest, err)
			return
		}
		pos, err := db.IngestJSON(r.PathValue("name"), objs)
		if err != nil {
			status := http.StatusBadRequest
			switch sqlerr.Code(err) {
			case sqlerr.UndefinedTable:
				status = http.StatusNotFound
			case sqlerr.IOError, sqlerr.InternalError:
				status = http.StatusInternalServerError
			}
			httpError(w, status, err)
			return
		}
		type rec struct {
			Shard int    `json:"shard"`
			Seq   uint64 `json:"sequence_number"`
		}
		out := struct {
			Records []rec `json:"records"`
		}{Records: make([]rec, len(pos))}
		for i, p := range pos {
			out.Records[i] = rec{Shard: p.Shard, Seq: p.Seq}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /streams/{name}/shards/{shard}/records", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		shard, err := strconv.Atoi(r.PathValue("shard"))
		if err != nil {
			httpError(w, http.StatusBadRequest, sqlerr.New(sqlerr.InvalidParameterValue, "bad shard %q", r.PathValue("shard")))
			return
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		var wait time.Duration
		if v := q.Get("wait"); v != "" {
			if wait, err = time.ParseDuration(v); err != nil || wait > time.Minute {
				httpError(w, http.StatusBadRequest, sqlerr.New(sqlerr.InvalidParameterValue, "bad wait %q (e.g. 500ms, at most 1m)", v))
				return
			}
		}
		recs, next, err := db.ReadStream(r.Context(), r.PathValue("name"), shard, q.Get("from"), limit, wait)
		if err != nil {
			status := http.StatusBadRequest
			if sqlerr.Code(err) == sqlerr.UndefinedTable {
				status = http.StatusNotFound
			}
			httpError(w, status, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"records": recs, "next": next})
	})
	return mux
}

func httpError(w http.ResponseWriter, status int, err error) {
	e := sqlerr.As(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": e.Message, "code": e.Code, "detail": e.Detail})
}

// decodeRecords reads a JSON array of objects or JSON lines.
func decodeRecords(r io.Reader) ([]map[string]any, error) {
	br := bufio.NewReader(r)
	first, err := peekNonSpace(br)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, err
	}
	if err != nil {
		return nil, errors.New("empty request body")
	}
	body, err := io.ReadAll(br)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(body) {
		// JSON's decoder would put U+FFFD in place of the bad bytes
		return nil, types.CheckText(string(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out []map[string]any
	if first == '[' {
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("malformed JSON array: %v", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, errors.New("malformed JSON: data after the array")
		}
		return out, nil
	}
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("malformed JSON line %d: %v", len(out)+1, err)
		}
		out = append(out, m)
	}
}

// peekNonSpace returns the first byte that is not white space.
func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		if !bytes.ContainsAny(b, " \t\r\n") {
			return b[0], nil
		}
		if _, err := br.ReadByte(); err != nil {
			return 0, err
		}
	}
}
