package main

import (
	"bytes"
	"flag"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/parleyhq/parley/app/apptest"
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
	apptest.Golden(t, filepath.Join("testdata", "asyncapi.json"), got, *update, "go test ./cmd/parley -run TestAsyncAPIGolden")
}
