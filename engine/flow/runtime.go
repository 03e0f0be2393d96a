package flow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Runtime holds a database's running jobs: those of its materialized
// views and sinks, by name, in the order they started (a job starts after
// the jobs of the views it reads), and the private jobs of subscriptions
// to queries.
type Runtime struct {
	mu      sync.RWMutex
	jobs    map[string]*Job
	order   map[*Job]uint64
	seq     uint64
	private map[*Job][]string // a private job and the objects it reads
}

// NewRuntime returns a runtime with no jobs.
func NewRuntime() *Runtime {
	return &Runtime{jobs: map[string]*Job{}, order: map[*Job]uint64{}, private: map[*Job][]string{}}
}

// Add registers a running job under its name.
func (r *Runtime) Add(j *Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.jobs[j.name], r.order[j] = j, r.seq
}

// AddPrivate registers a subscription's private job, which reads the
// objects reads (DropObject ends it when one goes).
func (r *Runtime) AddPrivate(j *Job, reads []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.private[j] = reads
}

// RemovePrivate stops a private job.
func (r *Runtime) RemovePrivate(j *Job) {
	r.mu.Lock()
	delete(r.private, j)
	r.mu.Unlock()
	j.Stop()
}

// Job returns the job named name (nil when none runs).
func (r *Runtime) Job(name string) *Job {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.jobs[name]
}

// View returns the view the job named name maintains (nil when none).
func (r *Runtime) View(name string) *View {
	if j := r.Job(name); j != nil {
		if v, ok := j.sink.(*View); ok {
			return v
		}
	}
	return nil
}

// Stop stops and forgets the job named name.
func (r *Runtime) Stop(name string) {
	r.mu.Lock()
	j := r.jobs[name]
	delete(r.jobs, name)
	delete(r.order, j)
	r.mu.Unlock()
	if j != nil {
		j.Stop()
	}
}

// Names are the running jobs' names.
func (r *Runtime) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.jobs))
}

// Views are the running jobs' views.
func (r *Runtime) Views() []*View {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*View
	for _, j := range r.jobs {
		if v, ok := j.sink.(*View); ok {
			out = append(out, v)
		}
	}
	return out
}

// Flush waits until every job reflects everything written to what it
// reads before the call. A job that has failed does not make it fail for
// everyone: it is skipped, and named in the returned notice.
func (r *Runtime) Flush(ctx context.Context) (notice string, err error) {
	r.mu.RLock()
	jobs := slices.Collect(maps.Keys(r.order))
	order := maps.Clone(r.order)
	r.mu.RUnlock()
	// in the order they started: a view's job hands its changes on to the
	// jobs reading it before they are waited for
	sort.Slice(jobs, func(a, b int) bool { return order[jobs[a]] < order[jobs[b]] })
	var failed []string
	for _, j := range jobs {
		if err := j.Wait(ctx); err != nil {
			if j.Err() == nil {
				return "", err
			}
			failed = append(failed, j.name)
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		notice = fmt.Sprintf("FLUSH did not wait for failed materialized views: %s (streamsql_views says why)", strings.Join(failed, ", "))
	}
	return notice, nil
}

// EndSubscriptionsTo ends, with err, the subscriptions that read the
// object name: those to its view, and private jobs reading it.
func (r *Runtime) EndSubscriptionsTo(name string, err error) {
	if v := r.View(name); v != nil {
		v.End(err)
	}
	r.mu.RLock()
	var ends []*View
	for j, reads := range r.private {
		if v, ok := j.sink.(*View); ok && slices.Contains(reads, name) {
			ends = append(ends, v)
		}
	}
	r.mu.RUnlock()
	for _, v := range ends {
		v.End(err)
	}
}

// EndAll ends every subscription with err (the server is stopping).
func (r *Runtime) EndAll(err error) {
	r.mu.RLock()
	var views []*View
	for j := range r.private {
		if v, ok := j.sink.(*View); ok {
			views = append(views, v)
		}
	}
	for _, j := range r.jobs {
		if v, ok := j.sink.(*View); ok {
			views = append(views, v)
		}
	}
	r.mu.RUnlock()
	for _, v := range views {
		v.End(err)
	}
}

// Checkpoint takes a checkpoint of every job that keeps them and returns
// once they are durable; the error names the jobs whose checkpoint failed.
func (r *Runtime) Checkpoint(ctx context.Context) error {
	r.mu.RLock()
	jobs := slices.Collect(maps.Values(r.jobs))
	r.mu.RUnlock()
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.Checkpoint(ctx); err != nil && !errors.Is(err, errNoCheckpoints) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// SetCheckpointInterval sets every job's time between checkpoints.
func (r *Runtime) SetCheckpointInterval(d time.Duration) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, j := range r.jobs {
		j.SetCheckpointInterval(d)
	}
}

// Close stops every job, the last started first, each after a last
// checkpoint (so that the next start has nothing to replay).
func (r *Runtime) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_ = r.Checkpoint(ctx)
	cancel()
	r.mu.Lock()
	jobs := slices.Collect(maps.Keys(r.order))
	order := r.order
	private := slices.Collect(maps.Keys(r.private))
	r.jobs, r.order, r.private = map[string]*Job{}, map[*Job]uint64{}, map[*Job][]string{}
	r.mu.Unlock()
	for _, j := range private {
		j.Stop()
	}
	sort.Slice(jobs, func(a, b int) bool { return order[jobs[a]] > order[jobs[b]] })
	for _, j := range jobs {
		j.Stop()
	}
}
