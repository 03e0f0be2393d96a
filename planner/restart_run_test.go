package planner

import "testing"

// The restart benchmark's three restarts — after a clean stop, after a
// crash with records past the last checkpoint, and with no checkpoints —
// each find the view whole (RunRestart checks it after each).
func TestRunRestart(t *testing.T) {
	res, err := RunRestart(RestartRun{Events: 50_000, Groups: 700, Shards: 3, Tail: 5_000, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.StateBytes == 0 {
		t.Fatal("no checkpoint on disk")
	}
}
