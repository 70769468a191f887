package parley_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every package ARCHITECTURE.md names in backquotes exists in the tree, so
// the map cannot send a reader to a package that has moved or gone.
func TestArchitectureNamesOnlyPackagesThatExist(t *testing.T) {
	doc, err := os.ReadFile("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| (`[^|]+`) \\|").FindAllStringSubmatch(string(doc), -1)
	if len(rows) < 10 {
		t.Fatalf("found %d package rows in ARCHITECTURE.md; the table is gone or reshaped", len(rows))
	}
	for _, row := range rows {
		for _, name := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(row[1], -1) {
			pkg := name[1]
			if pkg == "parley" {
				continue // the root package
			}
			files, _ := filepath.Glob(filepath.Join(filepath.FromSlash(pkg), "*.go"))
			if len(files) == 0 {
				t.Errorf("ARCHITECTURE.md names package %q, which has no Go files", pkg)
			}
		}
	}
	for _, want := range []string{"channel", "conversation", "store", "stage", "event"} {
		if !strings.Contains(string(doc), "| `"+want+"` |") {
			t.Errorf("ARCHITECTURE.md has no row for %q", want)
		}
	}
}
