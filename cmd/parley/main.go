// Command parley is the Parley conversation engine: one binary whose
// subcommands serve the whole system, migrate its database and manage
// tenants.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // tenant time zones work on machines without a zoneinfo database

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `parley — a self-hosted conversation engine

Usage:
  parley serve [flags]                   run the API, webhooks, dashboard and job workers
  parley migrate [flags]                 bring the database schema up to date
  parley tenant create --name NAME       create a tenant and print its first API key (JSON)
  parley tenant budget --tenant ID [--llm-tokens N] [--templates N]
                                         set a tenant's monthly LLM token and template budgets (0 = no limit; JSON)
  parley simulate [flags]                drive a Parley with simulated WhatsApp customers and report figures
  parley user create --tenant ID --email E --name N [--role admin|agent] [--password-stdin]
                                         create a dashboard user (JSON; prints a generated password without --password-stdin)
  parley events [--format asyncapi|jsonschema]  print the event catalog (commands, events, payload schemas)
  parley version                         print the version

Every setting is an environment variable with a matching flag (a flag wins);
run "parley serve --help" for the list.
`

// usageError is bad input on the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "parley: "+oneLine(err.Error()))
	var ue *usageError
	var ce *config.Error
	var pe *parley.Error
	if errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &pe) {
		return 2
	}
	return 1
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "migrate":
		return migrate(ctx, args[1:], getenv, stdout, stderr)
	case "tenant":
		if len(args) >= 2 && args[1] == "budget" {
			return tenantBudget(ctx, args[2:], getenv, stdout, stderr)
		}
		if len(args) < 2 || args[1] != "create" {
			return &usageError{`unknown tenant command (want "parley tenant create --name NAME" or "parley tenant budget --tenant ID")`}
		}
		return tenantCreate(ctx, args[2:], getenv, stdout, stderr)
	case "simulate":
		return runSimulate(ctx, args[1:], stdout, stderr)
	case "user":
		if len(args) < 2 || args[1] != "create" {
			return &usageError{`unknown user command (want "parley user create --tenant ID --email E --name N")`}
		}
		return userCreate(ctx, args[2:], getenv, os.Stdin, stdout, stderr)
	case "events":
		return events(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "parley "+version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return &usageError{fmt.Sprintf("unknown command %q (run \"parley help\")", args[0])}
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.LogLevel}))
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	stopPprof, err := startPprof(cfg.PprofAddr, log)
	if err != nil {
		return &config.Error{Var: "PARLEY_PPROF_ADDR", Msg: err.Error()}
	}
	defer stopPprof()
	a, err := app.New(ctx, cfg, app.Options{Logger: log, Version: version})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		a.Close(context.Background())
		return err
	}
	<-ctx.Done()
	log.Info("shutting down: finishing in-flight jobs")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.Close(shutdownCtx)
}

// openStore reads only the settings a database command needs, so it can
// run beside a serving process without its HTTP settings.
func openStore(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (*store.Store, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := getenv("PARLEY_DATABASE_URL")
	if dbURL == "" {
		dbURL = "parley.db"
	}
	fs.StringVar(&dbURL, "database-url", dbURL, "a SQLite file path, or a postgres:// URL (env PARLEY_DATABASE_URL)")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := config.Load([]string{"--database-url", dbURL}, func(string) string { return "" }, io.Discard)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(ctx, cfg.DatabaseURL, store.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return s, nil
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s, err := openStore(ctx, "migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "database (%s) is up to date\n", s.Engine())
	return nil
}

func tenantCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var name, tz, lang string
	s, err := openStore(ctx, "tenant create", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the business's name (required)")
		fs.StringVar(&tz, "time-zone", "UTC", "IANA time zone for availability hours")
		fs.StringVar(&lang, "language", "en", "default language for customers")
	})
	if err != nil {
		return err
	}
	defer s.Close()
	name = strings.TrimSpace(name)
	if name == "" {
		return &usageError{"--name is required"}
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return &usageError{fmt.Sprintf("--time-zone: %q is not a known IANA time zone", tz)}
	}
	var out struct {
		TenantID string `json:"tenant_id"`
		Name     string `json:"name"`
		APIKeyID string `json:"api_key_id"`
		APIKey   string `json:"api_key"`
	}
	err = s.InTx(ctx, func(q *store.Queries) error {
		t, err := q.CreateTenant(ctx, parley.Tenant{Name: name, TimeZone: tz, DefaultLanguage: lang})
		if err != nil {
			return err
		}
		k, secret, err := q.CreateAPIKey(ctx, t.ID, "default")
		if err != nil {
			return err
		}
		out.TenantID, out.Name, out.APIKeyID, out.APIKey = t.ID, t.Name, k.ID, secret
		return nil
	})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
