package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/dashboard"
)

// userCreate makes a dashboard user. The password comes from stdin with
// --password-stdin (so it never shows in the process list or shell
// history); without it a random one is generated and printed once.
func userCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var tenantID, email, name, role, agentID string
	var fromStdin bool
	s, err := openStore(ctx, "user create", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&tenantID, "tenant", "", "the tenant's id (required)")
		fs.StringVar(&email, "email", "", "the e-mail address to sign in with (required)")
		fs.StringVar(&name, "name", "", "the user's name (required)")
		fs.StringVar(&role, "role", "admin", "admin (may change settings) or agent")
		fs.StringVar(&agentID, "agent-id", "", "the human agent this user works as (optional)")
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	})
	if err != nil {
		return err
	}
	defer s.Close()
	for flagName, v := range map[string]string{"tenant": tenantID, "email": email, "name": name} {
		if strings.TrimSpace(v) == "" {
			return &usageError{"--" + flagName + " is required"}
		}
	}
	password, generated := "", false
	if fromStdin {
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if password == "" {
			return &usageError{"--password-stdin: standard input is empty"}
		}
	} else {
		password, generated = generatePassword(), true
	}
	u, err := dashboard.CreateUser(ctx, s, dashboard.NewUser{TenantID: tenantID, Email: email, Name: name,
		Role: parley.UserRole(role), AgentID: agentID, Password: password})
	if err != nil {
		var pe *parley.Error
		if errors.As(err, &pe) && pe.Field != "" {
			flagName := map[string]string{"agent": "agent-id", "password": "password-stdin"}[pe.Field]
			if flagName == "" {
				flagName = pe.Field
			}
			return &usageError{"--" + flagName + ": " + pe.Message}
		}
		return err
	}
	out := struct {
		UserID   string `json:"user_id"`
		TenantID string `json:"tenant_id"`
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Password string `json:"password,omitempty"`
	}{UserID: u.ID, TenantID: u.TenantID, Email: u.Email, Name: u.Name, Role: string(u.Role)}
	if generated {
		out.Password = password
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// generatePassword returns 20 random characters from an alphabet without
// look-alikes.
func generatePassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
