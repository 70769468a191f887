package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func runBudget(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	return runParley(t, dir, "", env, append([]string{"tenant", "budget"}, args...)...)
}

// TestTenantBudget: the operator sets a tenant's budgets on the command
// line; bad input is one line, exit 2, and changes nothing.
func TestTenantBudget(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PARLEY_DATABASE_URL=" + filepath.Join(dir, "p.db")}
	tenantID, _ := runTenantCreate(t, dir, env...)

	type budget struct {
		TenantID      string `json:"tenant_id"`
		LLMTokens     int64  `json:"llm_tokens"`
		TemplateSends int64  `json:"template_sends"`
	}
	set := func(args ...string) budget {
		t.Helper()
		code, out, errOut := runBudget(t, dir, env, append([]string{"--tenant", tenantID}, args...)...)
		var b budget
		if code != 0 || json.Unmarshal([]byte(out), &b) != nil {
			t.Fatalf("tenant budget %v: exit %d, %s %s", args, code, out, errOut)
		}
		return b
	}
	if b := set("--llm-tokens", "50000", "--templates", "200"); b != (budget{tenantID, 50000, 200}) {
		t.Fatalf("budget = %+v", b)
	}

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"negative tokens", []string{"--tenant", tenantID, "--llm-tokens", "-1"}, "llm-tokens"},
		{"not a number", []string{"--tenant", tenantID, "--templates", "lots"}, "templates"},
		{"no tenant", []string{"--llm-tokens", "10"}, "--tenant is required"},
		{"unknown tenant", []string{"--tenant", "nope", "--llm-tokens", "10"}, "--tenant:"},
		{"nothing to set", []string{"--tenant", tenantID}, "--llm-tokens N or --templates N"},
		{"stray argument", []string{"--tenant", tenantID, "--llm-tokens", "10", "extra"}, "unexpected argument"},
	}
	for _, tc := range bad {
		code, _, errOut := runBudget(t, dir, env, tc.args...)
		if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "parley: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line naming %q", tc.name, code, errOut, tc.want)
		}
	}

	// Nothing above changed the budget; a flag left out keeps its value,
	// and 0 lifts a limit.
	if b := set("--templates", "0"); b != (budget{tenantID, 50000, 0}) {
		t.Fatalf("after bad input and --templates 0: budget = %+v, want tokens kept at 50000", b)
	}
}
