package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/event"
)

// Every payload a conversation's log can hold is in the catalog under each
// name it is logged as, and every catalog name with such a payload is one of
// them. The store refuses a payload under a name it was not made for, so
// this covers every AppendEvent in the code: `parley events` documents what
// is logged.
func TestEveryLoggedPayloadIsInTheCatalog(t *testing.T) {
	entries := catalog()
	byName := map[string]event.Entry{}
	for _, e := range entries {
		if _, dup := byName[e.Name]; dup {
			t.Errorf("%q is twice in the catalog", e.Name)
		}
		byName[e.Name] = e
	}
	payloadType := reflect.TypeFor[event.Payload]()
	inCatalog := map[string]bool{} // "package.Type" of each catalog payload
	for _, e := range entries {
		if e.Payload == nil || e.Payload.Kind() != reflect.Struct {
			t.Errorf("%q: payload %v is not a struct", e.Name, e.Payload)
			continue
		}
		inCatalog[typeKey(e.Payload)] = true
		if !e.Payload.Implements(payloadType) {
			continue // a job's args that are never logged as such
		}
		names := reflect.Zero(e.Payload).Interface().(event.Payload).EventNames()
		if !slices.Contains(names, e.Name) {
			t.Errorf("%q: its payload %v is logged only as %q", e.Name, e.Payload, names)
		}
		for _, n := range names {
			if other, ok := byName[n]; !ok {
				t.Errorf("%v is logged as %q, which is not in the catalog", e.Payload, n)
			} else if other.Payload != e.Payload {
				t.Errorf("%v is logged as %q, whose catalog payload is %v", e.Payload, n, other.Payload)
			}
		}
	}

	// Every payload type declared in the code (an EventNames method outside
	// tests) must be in the catalog.
	fset := token.NewFileSet()
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "EventNames" {
				continue
			}
			recv := fn.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			key := f.Name.Name + "." + recv.(*ast.Ident).Name
			if !inCatalog[key] {
				t.Errorf("%s (%s) is logged but not in the catalog", key, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inCatalog) < 15 {
		t.Fatalf("only %d catalog payloads found", len(inCatalog))
	}
}

// typeKey is "package.Type", as the source names it.
func typeKey(t reflect.Type) string {
	return t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:] + "." + t.Name()
}
