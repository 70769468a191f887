package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Bad simulate flags are one line on stderr and exit 2, before any
// process starts: replicas on SQLite (the default database), none at all.
func TestSimulateBadReplicas(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"replicas on the default SQLite", []string{"simulate", "--replicas", "3"}, "--replicas above 1 needs a PostgreSQL"},
		{"replicas on a SQLite file", []string{"simulate", "--replicas", "2", "--database-url", "parley.db"}, "--replicas above 1 needs a PostgreSQL"},
		{"no replicas", []string{"simulate", "--replicas", "0"}, "--replicas must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, func(string) string { return "" }, &stdout, &stderr)
			out := strings.TrimSpace(stderr.String())
			if code != 2 || strings.Contains(out, "\n") || !strings.HasPrefix(out, "parley: ") || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line naming %q", code, stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// --channel takes whatsapp or instagram only.
func TestSimulateBadChannel(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"simulate", "--channel", "telegram"}, func(string) string { return "" }, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--channel: want whatsapp or instagram") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
