package main

import (
	"os"
	"strings"
	"testing"
)

// The follow-up benchmarks' output as go test printed it, where the
// benchmark's progress line split the second and third results' names from
// their figures: every run's figures are read all the same.
func TestParseBenchReadsSplitResultLines(t *testing.T) {
	f, err := os.Open("testdata/followup-bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &results{followup: map[string]map[string][]float64{}}
	parseBench(f, r, []string{"sqlite", "postgres"})
	got := r.followup["sqlite"]["DueFollowUps send_all_s"]
	want := []float64{183.4, 188.5, 186.1}
	if len(got) != len(want) {
		t.Fatalf("send_all_s runs = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("send_all_s runs = %v, want %v", got, want)
		}
	}
	if n := len(r.followup["sqlite"]["DueFollowUps floor_commits/s"]); n != 3 {
		t.Fatalf("%d floor figures, want 3", n)
	}
	if _, ok := r.followup["sqlite"]["DueFollowUps ns/op"]; ok {
		t.Fatal("ns/op was read as a figure")
	}
	if len(r.followup["postgres"]) != 0 {
		t.Fatalf("postgres figures from sqlite lines: %v", r.followup["postgres"])
	}
}

// Saved output that is missing, or holds nothing for an engine asked for,
// is refused before any simulation runs.
func TestReadSavedRefusesWhatItCannotUse(t *testing.T) {
	empty := t.TempDir() + "/empty.txt"
	if err := os.WriteFile(empty, []byte("goos: linux\nPASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		engines    []string
		ok         bool
	}{
		{"the saved run, sqlite", "testdata/followup-bench.txt", []string{"sqlite"}, true},
		{"no postgres figures in it", "testdata/followup-bench.txt", []string{"sqlite", "postgres"}, false},
		{"no results at all", empty, []string{"sqlite"}, false},
		{"no such file", t.TempDir() + "/missing.txt", []string{"sqlite"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &results{followup: map[string]map[string][]float64{}}
			err := readSaved(r, c.path, c.engines)
			if (err == nil) != c.ok {
				t.Fatalf("readSaved = %v, want ok %v", err, c.ok)
			}
			if c.ok && r.followupSource != c.path {
				t.Fatalf("source = %q", r.followupSource)
			}
		})
	}
}

// The recovery figure is read from TestRecoveryTime's log line, per engine,
// whether the check passed or not.
func TestParseRecovery(t *testing.T) {
	log := `=== RUN   TestRecoveryTime/sqlite
    recovery_test.go:88: reliability: recovery after kill -9 (sqlite): 50 messages caught (50 had reached the model), 50 answered, the last 2.3s after the restarted process was healthy (limit 15s), 0 doubled
    recovery_test.go:88: reliability: recovery after kill -9 (postgres): 50 messages caught (25 had reached the model), 50 answered, the last 1m4.5s after the restarted process was healthy (limit 15s), 0 doubled
`
	got := parseRecovery(strings.NewReader(log))
	if got["sqlite"] != 2.3 || got["postgres"] != 64.5 {
		t.Fatalf("recovery = %v, want sqlite 2.3, postgres 64.5", got)
	}
}
