// Command streamsql runs the streamsql server: a PostgreSQL-compatible
// SQL engine over durable tables and streams.
//
//	streamsql demo  (the same flags: the crypto demo, see README)
//	streamsql bench nexmark --query q5 --events 10000000 [--workers N] [--all] [--runs 3]
//	streamsql [serve] [--listen 127.0.0.1:5433] [--data-dir ./streamsql-data] [--http 127.0.0.1:8081]
//	                  [--password PW | --users-file FILE] [--cleartext]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/wire"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "serve":
			args = args[1:]
		case "demo":
			if err := serve(args[1:], true); err != nil {
				fmt.Fprintln(os.Stderr, "streamsql:", err)
				os.Exit(1)
			}
			return
		case "bench":
			if err := bench(args[1:]); err != nil {
				fmt.Fprintln(os.Stderr, "streamsql:", err)
				os.Exit(1)
			}
			return
		case "version":
			fmt.Println("streamsql (PostgreSQL 15 wire protocol)")
			return
		default:
			fmt.Fprintf(os.Stderr, "streamsql: unknown command %q (commands: serve, demo, bench, version)\n", args[0])
			os.Exit(2)
		}
	}
	if err := serve(args, false); err != nil {
		fmt.Fprintln(os.Stderr, "streamsql:", err)
		os.Exit(1)
	}
}

// serve runs the server; demo also creates the demo's streams, tables and
// views and feeds them (its data directory defaults to ./streamsql-demo-data).
func serve(args []string, demo bool) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:5433", "PostgreSQL protocol address")
	defaultDir := "./streamsql-data"
	if demo {
		defaultDir = "./streamsql-demo-data"
	}
	dataDir := fs.String("data-dir", defaultDir, "data directory")
	httpAddr := fs.String("http", "127.0.0.1:8081", "HTTP address for health and metrics (empty: off)")
	password := fs.String("password", "", "require this password (SCRAM-SHA-256) from every user")
	usersFile := fs.String("users-file", "", "file of user:password lines; turns on password authentication")
	cleartext := fs.Bool("cleartext", false, "ask for passwords in clear text instead of SCRAM-SHA-256")
	verbose := fs.Bool("v", false, "log debug messages")
	streamFsync := fs.Bool("stream-fsync", true, "fsync stream appends before acknowledging them (group commit); false trades crash safety for speed")
	viewBatch := fs.Int("view-batch-size", 65536, "most records a materialized view reads from a shard at once (results do not depend on it)")
	workers := fs.Int("workers", 0, "goroutines each view's aggregate is split over by key (0: the number of CPUs)")
	gcPercent := fs.Int("gogc", 400, "garbage collector target percentage (the GOGC environment variable, when set, wins); a larger value trades memory for lower, steadier latency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// the dataflow allocates per change: collecting less often cuts
		// the assist work that otherwise lands on the view goroutines
		debug.SetGCPercent(*gcPercent)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	auth := wire.Auth{Cleartext: *cleartext}
	if *password != "" || *usersFile != "" {
		auth.Users = map[string]string{}
	}
	if *usersFile != "" {
		users, err := readUsers(*usersFile)
		if err != nil {
			return err
		}
		auth.Users = users
	}
	if *password != "" {
		auth.Users["*"] = *password
	}
	db, err := planner.OpenWith(*dataDir, planner.Options{StreamNoSync: !*streamFsync, ViewBatch: *viewBatch, Workers: *workers})
	if err != nil {
		return err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := wire.NewServer(db, auth, log)
	go func() {
		// stream retention: whole old segments go (a check of segment metadata)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				db.EnforceRetention(now)
			}
		}
	}()
	if *httpAddr != "" {
		hs := wire.NewHTTPServer(db, 0)
		hl, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return err
		}
		go func() { _ = hs.Serve(hl) }()
		defer hs.Close()
	}
	for _, err := range db.StartErrors() {
		var w *planner.Warning
		if errors.As(err, &w) {
			log.Warn(w.Msg)
			continue
		}
		log.Error("at start-up", "err", err)
	}
	if demo {
		if err := startDemo(ctx, db, log); err != nil {
			return err
		}
		fmt.Print(demoHelp(host(ln.Addr()), port(ln.Addr())))
	}
	log.Info("streamsql is ready", "listen", ln.Addr().String(), "data_dir", *dataDir,
		"connect", fmt.Sprintf("psql -h %s -p %s -U streamsql", host(ln.Addr()), port(ln.Addr())))
	err = srv.Serve(ctx, ln)
	log.Info("streamsql stopped")
	return err
}

func host(a net.Addr) string {
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

func port(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

func readUsers(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	users := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, p, ok := strings.Cut(line, ":")
		if !ok {
			return nil, errors.New("users file: lines must be user:password")
		}
		users[u] = p
	}
	return users, sc.Err()
}
