package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/parleyhq/parley/simulate"
)

// runSimulate is `parley simulate`: a load generator and end-to-end demo.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg simulate.Config
	var jsonOut string
	fs.IntVar(&cfg.Customers, "customers", 100, "simulated customers; each waits for its reply before writing again")
	fs.Float64Var(&cfg.Rate, "rate", 0, "messages per second to offer; 0 offers as fast as customers are free")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to offer load")
	fs.IntVar(&cfg.Messages, "messages", 0, "stop after this many messages instead of after --duration")
	fs.DurationVar(&cfg.LLMLatency, "llm-latency", 0, "how long the fake LLM takes to answer")
	fs.Float64Var(&cfg.LLMFaultRate, "llm-fault-rate", 0, "share of the fake LLM's calls that misbehave (429, 5xx, broken JSON, drops, slowness)")
	fs.Float64Var(&cfg.GraphFaultRate, "graph-fault-rate", 0, "share of the fake Graph API's sends that misbehave (429, 5xx, drops, slowness)")
	fs.IntVar(&cfg.Senders, "senders", 64, "concurrent webhook connections")
	fs.IntVar(&cfg.Replicas, "replicas", 1, "parley serve processes sharing the database (more than 1 needs PostgreSQL); webhooks are spread over them")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "database for the Parley under test (default: a fresh SQLite file)")
	fs.DurationVar(&cfg.Floor, "floor", 2*time.Second, "time per floor measurement (database commits, no-op jobs, loopback HTTP) in the same run; 0 skips")
	fs.StringVar(&cfg.FollowUpQueue, "followup-queue", "", "an SQS queue URL or nats://host:port/<stream>/<subject>: Parley reads Follow-Up Requests from it, and after the load one is published there for every conversation")
	fs.StringVar(&cfg.Channel, "channel", "whatsapp", "what the customers write on: whatsapp, or instagram (Instagram Direct against a fake Instagram API)")
	fs.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file (- for stdout)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return &usageError{err.Error()}
	}
	switch {
	case fs.NArg() > 0:
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	case cfg.Customers < 1:
		return &usageError{"--customers must be at least 1"}
	case cfg.Rate < 0:
		return &usageError{"--rate must be 0 or more"}
	case cfg.LLMFaultRate < 0 || cfg.LLMFaultRate > 1 || cfg.GraphFaultRate < 0 || cfg.GraphFaultRate > 1:
		return &usageError{"--llm-fault-rate and --graph-fault-rate must be between 0 and 1"}
	case cfg.Messages < 0:
		return &usageError{"--messages must be 0 or more"}
	case cfg.Messages == 0 && cfg.Duration <= 0:
		return &usageError{"--duration must be positive (or give --messages)"}
	case cfg.FollowUpQueue != "" && !strings.HasPrefix(cfg.FollowUpQueue, "nats://") && !strings.HasPrefix(cfg.FollowUpQueue, "http"):
		return &usageError{"--followup-queue: want an SQS queue URL (https://…) or nats://host:port/<stream>/<subject>"}
	case cfg.Channel != "whatsapp" && cfg.Channel != "instagram":
		return &usageError{"--channel: want whatsapp or instagram"}
	case cfg.Senders < 1:
		return &usageError{"--senders must be at least 1"}
	case cfg.Replicas < 1:
		return &usageError{"--replicas must be at least 1"}
	case cfg.Replicas > 1 && !strings.HasPrefix(cfg.DatabaseURL, "postgres"):
		return &usageError{"--replicas above 1 needs a PostgreSQL --database-url: SQLite has one writer, in one process"}
	}
	if cfg.Messages > 0 {
		cfg.Duration = 0
	}
	cfg.Log = stderr
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	rep, err := simulate.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if jsonOut != "" {
		w := stdout
		if jsonOut != "-" {
			f, err := os.Create(jsonOut)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return nil
}
