package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/store"
)

// count is a flag holding a whole number ≥ 0, refused at parse time so
// that bad input changes nothing.
type count struct {
	n   int64
	set bool
}

func (c *count) String() string { return strconv.FormatInt(c.n, 10) }

func (c *count) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a whole number ≥ 0", s)
	}
	c.n, c.set = n, true
	return nil
}

// tenantBudget sets a tenant's monthly budgets. The operator pays for the
// LLM key and the templates, so this is a command, not a tenant API.
func tenantBudget(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var tenantID string
	var tokens, templates count
	// A bad value is one line (the run's error), not the flag set's usage.
	flagOut := io.Discard
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			flagOut = stderr
		}
	}
	s, err := openStore(ctx, "tenant budget", args, getenv, flagOut, func(fs *flag.FlagSet) {
		fs.StringVar(&tenantID, "tenant", "", "the tenant's id (required)")
		fs.Var(&tokens, "llm-tokens", "LLM tokens (prompt + completion) a month; 0 = no limit; unset keeps the current value")
		fs.Var(&templates, "templates", "WhatsApp template sends a month; 0 = no limit; unset keeps the current value")
	})
	if err != nil {
		return err
	}
	defer s.Close()
	tenantID = strings.TrimSpace(tenantID)
	if tenantID == "" {
		return &usageError{"--tenant is required"}
	}
	if !tokens.set && !templates.set {
		return &usageError{"give --llm-tokens N or --templates N (0 = no limit)"}
	}
	var b store.Budget
	err = s.InTx(ctx, func(q *store.Queries) error {
		if _, err := q.GetTenant(ctx, tenantID); err != nil {
			return fmt.Errorf("--tenant: %w", err)
		}
		if b, err = q.GetBudget(ctx, tenantID); err != nil {
			return err
		}
		if tokens.set {
			b.LLMTokens = tokens.n
		}
		if templates.set {
			b.TemplateSends = templates.n
		}
		return q.SetBudget(ctx, tenantID, b)
	})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"tenant_id": tenantID, "llm_tokens": b.LLMTokens, "template_sends": b.TemplateSends})
}
