package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The AsyncAPI document `parley events` prints is a contract with every
// consumer of the event bus: it is kept in testdata/asyncapi.json, so a
// payload field added, renamed or dropped shows in review (go test
// ./cmd/parley -run TestAsyncAPIGolden -update rewrites it).
func TestAsyncAPIGolden(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, "events", "--format", "asyncapi")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("parley events: %v: %s", err, stderr.String())
	}
	// The binary's version is the build's, not the contract's.
	got := regexp.MustCompile(`"version": "[^"]*"`).ReplaceAll(stdout.Bytes(), []byte(`"version": "<version>"`))
	path := filepath.Join("testdata", "asyncapi.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the AsyncAPI document changed; if that is meant, run go test ./cmd/parley -run TestAsyncAPIGolden -update\n%s", lineDiff(want, got))
	}
}

// lineDiff names the first line where want and got part.
func lineDiff(want, got []byte) string {
	w, g := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b []byte
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if !bytes.Equal(a, b) {
			return "line " + strconv.Itoa(i+1) + ":\n want: " + string(a) + "\n  got: " + string(b)
		}
	}
	return ""
}
