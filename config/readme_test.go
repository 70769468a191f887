package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table must name every variable, with its flag
// and default, so the documentation cannot drift from the code.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, row := range Table() {
		line := ""
		for _, l := range strings.Split(readme, "\n") {
			if strings.HasPrefix(l, "| `"+row[0]+"`") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("README has no table row for %s", row[0])
			continue
		}
		if !strings.Contains(line, "`"+row[1]+"`") || (row[2] != "" && !strings.Contains(line, "`"+row[2]+"`")) {
			t.Errorf("README row for %s lacks flag %s or default %q: %s", row[0], row[1], row[2], line)
		}
	}
}
