package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// flowNames reads every string constant declared in package event's
// sources, so a name added there without a catalog entry fails this test.
func flowNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../event/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				for _, v := range spec.(*ast.ValueSpec).Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						names = append(names, s)
					}
				}
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %d names in package event: %v", len(names), names)
	}
	return names
}

func TestEventsPrintsEveryFlowNameWithASchema(t *testing.T) {
	names := flowNames(t)
	// The follow-up and notification packages add theirs to the catalog.
	names = append(names, "Follow-Up Request", "Follow-Up Sent", "Follow-Up Skipped", "Notification Requested", "Notification Answered", "Template Skipped")
	for _, format := range []string{"asyncapi", "jsonschema"} {
		t.Run(format, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(binary, "events", "--format", format)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("parley events: %v: %s", err, stderr.String())
			}
			var doc map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			// Each name's schema, wherever the format keeps it.
			schemas := map[string]map[string]any{}
			if format == "asyncapi" {
				if doc["asyncapi"] != "3.0.0" {
					t.Fatalf("asyncapi version: %v", doc["asyncapi"])
				}
				msgs := doc["components"].(map[string]any)["messages"].(map[string]any)
				for _, m := range msgs {
					m := m.(map[string]any)
					schemas[m["name"].(string)], _ = m["payload"].(map[string]any)
				}
			} else {
				for _, d := range doc["$defs"].(map[string]any) {
					d := d.(map[string]any)
					schemas[d["title"].(string)] = d
				}
			}
			for _, n := range names {
				s, ok := schemas[n]
				if !ok {
					t.Errorf("%q is not in the catalog", n)
					continue
				}
				if s["type"] != "object" || s["properties"] == nil {
					t.Errorf("%q has no object schema: %v", n, s)
				}
			}
			if strings.Contains(stdout.String(), `"generate_ai_agent_answer"`) == false {
				t.Error("the AI agent's job kind is not named")
			}
		})
	}
	if out, err := exec.Command(binary, "events", "--format", "yaml").CombinedOutput(); err == nil || !strings.Contains(string(out), "--format") {
		t.Errorf("a bad format should fail naming the flag: %v %s", err, out)
	}
}

// The AsyncAPI document names the channels outside systems use: the event
// bus (every event) and the follow-up request queue, each message a
// resolvable reference.
func TestEventsNamesTheBusAndQueueChannels(t *testing.T) {
	out, err := exec.Command(binary, "events").Output()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	resolve := func(ref string) map[string]any {
		var x any = doc
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := x.(map[string]any)
			if !ok {
				return nil
			}
			x = m[p]
		}
		m, _ := x.(map[string]any)
		return m
	}
	channels := doc["channels"].(map[string]any)
	bus, _ := channels["eventBus"].(map[string]any)
	if bus == nil || bus["address"] != "parley.{tenant_id}.{event}" {
		t.Fatalf("eventBus channel = %v", bus)
	}
	all := len(doc["components"].(map[string]any)["messages"].(map[string]any))
	if n := len(bus["messages"].(map[string]any)); n != all {
		t.Errorf("the bus carries %d messages, the catalog has %d", n, all)
	}
	queue, _ := channels["followUpRequests"].(map[string]any)
	if queue == nil {
		t.Fatal("no followUpRequests channel")
	}
	for _, m := range queue["messages"].(map[string]any) {
		if got := resolve(m.(map[string]any)["$ref"].(string)); got == nil || got["name"] != "Follow-Up Request" {
			t.Errorf("the queue's message resolves to %v", got)
		}
	}
	for name, op := range doc["operations"].(map[string]any) {
		for _, m := range op.(map[string]any)["messages"].([]any) {
			if resolve(m.(map[string]any)["$ref"].(string)) == nil {
				t.Errorf("operation %s: %v does not resolve", name, m)
			}
		}
	}
}
