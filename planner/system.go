package planner

// Server-wide settings: checkpoint_interval, the time between the
// checkpoints of every view and sink. Its default comes from the server's
// flag (Options.CheckpointInterval); ALTER SYSTEM SET changes it for every
// job at once and keeps it across restarts (in system.json in the data
// directory, as PostgreSQL keeps ALTER SYSTEM's in postgresql.auto.conf);
// ALTER SYSTEM RESET goes back to the flag's. SHOW reads it; SET refuses
// it (55P02), as PostgreSQL refuses its server-wide parameters.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/streamsql/streamsql/catalog"
	"github.com/streamsql/streamsql/engine/flow"
	"github.com/streamsql/streamsql/planner/pgsql"
	"github.com/streamsql/streamsql/sqlerr"
	"github.com/streamsql/streamsql/types"
)

// systemSettingNames are the server-wide settings.
var systemSettingNames = []string{"checkpoint_interval"}

// defaultCheckpointInterval is checkpoint_interval's default.
const defaultCheckpointInterval = time.Second

// systemFile keeps what ALTER SYSTEM set.
const systemFile = "system.json"

// systemSetting is a server-wide setting's value (false: not one).
func (db *DB) systemSetting(name string) (string, bool) {
	if name != "checkpoint_interval" {
		return "", false
	}
	d := db.checkpointInterval()
	if d <= 0 {
		return "0", true
	}
	return formatDuration(d), true
}

// formatDuration writes d as PostgreSQL writes a time setting: 1s, 500ms.
func formatDuration(d time.Duration) string {
	switch {
	case d%time.Minute == 0:
		return fmt.Sprintf("%dmin", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

func (db *DB) checkpointInterval() time.Duration {
	return time.Duration(db.ckInterval.Load())
}

// setCheckpointInterval makes d the interval of every job, now and later.
func (db *DB) setCheckpointInterval(d time.Duration) {
	db.ckInterval.Store(int64(d))
	db.rt.SetCheckpointInterval(d)
}

// loadSystemSettings reads what ALTER SYSTEM set (nothing when the file
// is not there).
func (db *DB) loadSystemSettings() error {
	if db.dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(db.dir, systemFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", systemFile, err)
	}
	if v, ok := m["checkpoint_interval"]; ok {
		d, err := parseTimeout(v, time.Millisecond)
		if err != nil {
			return fmt.Errorf("%s: checkpoint_interval: %w", systemFile, err)
		}
		db.ckInterval.Store(int64(d))
	}
	return nil
}

// saveSystemSettings writes what ALTER SYSTEM set, atomically.
func (db *DB) saveSystemSettings(m map[string]string) error {
	if db.dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(db.dir, systemFile)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	return err
}

// alterSystem is ALTER SYSTEM SET / RESET.
func (s *Session) alterSystem(st *pgsql.AlterSystem) (*Result, error) {
	if st.Name != "checkpoint_interval" {
		if _, ok := defaultSettings[st.Name]; ok {
			return nil, sqlerr.New(sqlerr.CantChangeRuntimeParam, "parameter %q is a session setting: use SET", st.Name)
		}
		return nil, sqlerr.New(sqlerr.UndefinedObject, "unrecognized configuration parameter %q", st.Name)
	}
	d := s.db.ckDefault
	settings := map[string]string{}
	if !st.Default {
		v, err := parseTimeout(st.Value, time.Millisecond)
		if err != nil {
			return nil, err
		}
		if v != 0 && v < 10*time.Millisecond {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "checkpoint_interval must be 0 (checkpoints only when asked) or at least 10ms, not %s", strings.TrimSpace(st.Value))
		}
		d = v
		settings["checkpoint_interval"] = formatDuration(d)
		if d == 0 {
			settings["checkpoint_interval"] = "0"
		}
	}
	if err := s.db.saveSystemSettings(settings); err != nil {
		return nil, sqlerr.New(sqlerr.IOError, "could not write %s: %v", systemFile, err)
	}
	s.db.setCheckpointInterval(d)
	return &Result{Tag: "ALTER SYSTEM"}, nil
}

// checkpointConfig is where job o keeps its checkpoints (nil: a database
// in memory keeps none).
func (db *DB) checkpointConfig(o *catalog.Object) *flow.CheckpointConfig {
	if db.dir == "" {
		return nil
	}
	return &flow.CheckpointConfig{Dir: db.checkpointDir(o), Interval: db.checkpointInterval()}
}

func (db *DB) checkpointDir(o *catalog.Object) string {
	return filepath.Join(db.dir, "checkpoints", fmt.Sprintf("job-%d", o.OID))
}

// dropCheckpoints removes the checkpoints of a dropped view or sink.
func (db *DB) dropCheckpoints(o *catalog.Object) {
	if db.dir != "" {
		_ = os.RemoveAll(db.checkpointDir(o))
	}
}

// checkpointRows are streamsql_checkpoints' rows: a view's or sink's last
// checkpoint, and what it restored from at start.
func (db *DB) checkpointRows() [][]types.Datum {
	var out [][]types.Datum
	for _, o := range db.Catalog.Objects() {
		if o.Kind != catalog.KindMaterializedView && o.Kind != catalog.KindSink {
			continue
		}
		j := db.rt.Job(o.Name)
		if j == nil {
			continue
		}
		st, ok := j.CheckpointStats()
		if !ok {
			continue
		}
		var at, dur, lastErr, note any
		if st.ID > 0 && !st.Time.IsZero() {
			at = types.Datum{I: st.Time.UnixMicro()}
		}
		if st.Duration > 0 {
			dur = st.Duration.Seconds() * 1000
		}
		if st.LastError != "" {
			lastErr = st.LastError
		}
		if st.RestoreNote != "" {
			note = st.RestoreNote
		}
		var restored any
		if st.Restored > 0 {
			restored = int64(st.Restored)
		}
		out = append(out, row(o.Name, string(o.Kind), int64(st.ID), at, dur, st.Bytes, st.Full, st.StateBytes, int64(j.Stats().Groups),
			st.Failures, lastErr, restored, note))
	}
	return out
}
