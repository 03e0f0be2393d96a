package tests

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// The command line as a new user meets it: help lists the commands and
// exits 0, each command's --help names it, version prints one, and a wrong
// command line exits 2 with the usage.
func TestCommandLine(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
		want   []string // in stdout (status 0) or stderr
	}{
		{[]string{"--help"}, 0, []string{"streamsql demo", "streamsql bench nexmark", "streamsql version", "-data-dir"}},
		{[]string{"-h"}, 0, []string{"streamsql demo", "-listen"}},
		{[]string{"help"}, 0, []string{"streamsql demo", "streamsql version"}},
		{[]string{"help", "demo"}, 0, []string{"Usage: streamsql demo", "streamsql-demo-data"}},
		{[]string{"demo", "--help"}, 0, []string{"Usage: streamsql demo", "streamsql-demo-data"}},
		{[]string{"serve", "--help"}, 0, []string{"Usage: streamsql serve", "./streamsql-data"}},
		{[]string{"bench", "nexmark", "--help"}, 0, []string{"Usage: streamsql bench nexmark", "-query"}},
		{[]string{"bench", "restart", "--help"}, 0, []string{"Usage: streamsql bench restart", "-groups"}},
		{[]string{"version"}, 0, []string{"streamsql ", "PostgreSQL 15"}},
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`, "streamsql demo"}},
		{[]string{"serve", "--no-such-flag"}, 2, []string{"no-such-flag", "Usage: streamsql serve"}},
		{[]string{"serve", "stray"}, 2, []string{`unexpected argument "stray"`}},
		{[]string{"bench"}, 2, []string{"Usage: streamsql bench nexmark"}},
	} {
		cmd := exec.Command(binary, c.args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		status := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		if c.status != 0 {
			out = stderr.String()
		}
		if status != c.status {
			t.Errorf("streamsql %s: exit %d, want %d\n%s%s", strings.Join(c.args, " "), status, c.status, stdout.String(), stderr.String())
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("streamsql %s: %q not in\n%s", strings.Join(c.args, " "), w, out)
			}
		}
	}
}
