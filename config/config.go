// Package config reads Parley's settings from environment variables and
// matching command-line flags (a flag wins over its variable), with defaults
// that start the whole system on an embedded SQLite file.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/netguard"
	"github.com/parleyhq/parley/ratelimit"
)

// Config is every setting of `parley serve`.
type Config struct {
	Addr        string
	DatabaseURL string
	LogLevel    slog.Level

	LLMBaseURL string
	LLMAPIKey  string
	LLMModel   string
	LLMTimeout time.Duration

	WhatsAppGraphURL    string
	WhatsAppAPIVersion  string
	WhatsAppAppSecret   string
	WhatsAppVerifyToken string
	WhatsAppRateLimit   int // messages per second per business number
	InstagramGraphURL   string

	TwilioBaseURL string
	PublicURL     string // the address Twilio and Meta reach us on, for signatures

	APIRateLimit     float64 // requests per second per tenant on /api
	WebhookRateLimit float64 // requests per second per client IP on /webhooks

	JobTimeout     time.Duration
	JobRescueAfter time.Duration
	JobPoll        time.Duration
	Workers        int

	// PprofAddr, when set, serves net/http/pprof on its own listener, on
	// loopback only: for profiling, off by default.
	PprofAddr string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed when keying the sign-in and webhook limits by client address.
	TrustedProxies ratelimit.Proxies
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// DatabaseMaxConns caps this process's PostgreSQL connections; with
	// replicas, their sum must stay under the server's max_connections.
	DatabaseMaxConns int

	// FollowUpQueueURL, when set, is an SQS queue URL or a NATS JetStream
	// nats://host:port/<stream>/<subject> that Follow-Up Requests are read from.
	FollowUpQueueURL   string
	SQSEndpoint        string // an SQS-compatible endpoint instead of AWS's
	FollowUpDeadLetter string // NATS: the subject malformed requests go to

	// EventsURL, when set, is the NATS JetStream stream
	// (nats://host:port/<stream>) the conversation events are published to.
	EventsURL   string
	SNSEndpoint string // an SNS-compatible endpoint instead of AWS's
	// OutboundAllow are the ranges Parley may connect to, on any port, when a
	// tenant names the address (a site's SMTP server); outside them only
	// public addresses on the usual ports are dialed (see netguard).
	OutboundAllow []netip.Prefix
}

// Error is a configuration error; it names the variable at fault.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

// setting describes one variable: its flag, default and how to parse it.
type setting struct {
	env, flag, def, help string
	set                  func(c *Config, v string) error
}

func settings() []setting {
	return []setting{
		{"PARLEY_ADDR", "addr", ":8080", "address the HTTP server listens on", func(c *Config, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return errors.New("want host:port, e.g. :8080 or 127.0.0.1:8080")
			}
			c.Addr = v
			return nil
		}},
		{"PARLEY_DATABASE_URL", "database-url", "parley.db", "a SQLite file path, or a postgres:// URL", func(c *Config, v string) error {
			if v == "" {
				return errors.New("must not be empty")
			}
			if strings.Contains(v, "://") {
				u, err := url.Parse(v)
				if err != nil {
					return errors.New("not a valid URL")
				}
				switch u.Scheme {
				case "postgres", "postgresql", "sqlite", "sqlite3":
				default:
					return fmt.Errorf("unsupported scheme %q (use postgres:// or a SQLite file path)", u.Scheme)
				}
			}
			c.DatabaseURL = v
			return nil
		}},
		{"PARLEY_LOG_LEVEL", "log-level", "info", "debug, info, warn or error", func(c *Config, v string) error {
			return c.LogLevel.UnmarshalText([]byte(v))
		}},
		{"PARLEY_LLM_BASE_URL", "llm-base-url", "", "OpenAI-compatible endpoint, e.g. https://api.openai.com/v1; empty runs the offline mode", func(c *Config, v string) error {
			if v != "" {
				if err := checkHTTPURL(v); err != nil {
					return err
				}
			}
			c.LLMBaseURL = v
			return nil
		}},
		{"PARLEY_LLM_API_KEY", "llm-api-key", "", "API key for the LLM endpoint", func(c *Config, v string) error { c.LLMAPIKey = v; return nil }},
		{"PARLEY_LLM_MODEL", "llm-model", "gpt-4o-mini", "model name", func(c *Config, v string) error {
			if v == "" {
				return errors.New("must not be empty")
			}
			c.LLMModel = v
			return nil
		}},
		{"PARLEY_LLM_TIMEOUT", "llm-timeout", "30s", "timeout of one LLM call", durationSetter(func(c *Config) *time.Duration { return &c.LLMTimeout })},
		{"PARLEY_WHATSAPP_GRAPH_URL", "whatsapp-graph-url", "https://graph.facebook.com", "WhatsApp Cloud API base URL (tests point it at a fake)", func(c *Config, v string) error {
			if err := checkHTTPURL(v); err != nil {
				return err
			}
			c.WhatsAppGraphURL = strings.TrimRight(v, "/")
			return nil
		}},
		{"PARLEY_WHATSAPP_API_VERSION", "whatsapp-api-version", "v23.0", "Graph API version", func(c *Config, v string) error {
			if !strings.HasPrefix(v, "v") {
				return errors.New(`want a version like "v23.0"`)
			}
			c.WhatsAppAPIVersion = v
			return nil
		}},
		{"PARLEY_WHATSAPP_APP_SECRET", "whatsapp-app-secret", "", "Meta app secret that signs webhooks", func(c *Config, v string) error { c.WhatsAppAppSecret = v; return nil }},
		{"PARLEY_WHATSAPP_VERIFY_TOKEN", "whatsapp-verify-token", "", "token Meta echoes in the webhook verification handshake", func(c *Config, v string) error { c.WhatsAppVerifyToken = v; return nil }},
		{"PARLEY_WHATSAPP_RATE_LIMIT", "whatsapp-rate-limit", "80", "messages per second per business number", intSetter(func(c *Config) *int { return &c.WhatsAppRateLimit }, 1)},
		{"PARLEY_INSTAGRAM_GRAPH_URL", "instagram-graph-url", "https://graph.instagram.com", "Instagram messaging API base URL: graph.instagram.com (Instagram Login) or https://graph.facebook.com (Facebook Login); tests point it at a fake", func(c *Config, v string) error {
			if err := checkHTTPURL(v); err != nil {
				return err
			}
			c.InstagramGraphURL = strings.TrimRight(v, "/")
			return nil
		}},
		{"PARLEY_TWILIO_BASE_URL", "twilio-base-url", "https://api.twilio.com", "Twilio API base URL (tests point it at a fake)", func(c *Config, v string) error {
			if err := checkHTTPURL(v); err != nil {
				return err
			}
			c.TwilioBaseURL = strings.TrimRight(v, "/")
			return nil
		}},
		{"PARLEY_PUBLIC_URL", "public-url", "", "public base URL of this server (Twilio signs the full webhook URL)", func(c *Config, v string) error {
			if v != "" {
				if err := checkHTTPURL(v); err != nil {
					return err
				}
			}
			c.PublicURL = strings.TrimRight(v, "/")
			return nil
		}},
		{"PARLEY_API_RATE_LIMIT", "api-rate-limit", "100", "requests per second per tenant on /api (bursts of twice that); 0 turns it off", floatSetter(func(c *Config) *float64 { return &c.APIRateLimit })},
		{"PARLEY_WEBHOOK_RATE_LIMIT", "webhook-rate-limit", "5000", "webhook requests per second per client IP; 0 turns it off", floatSetter(func(c *Config) *float64 { return &c.WebhookRateLimit })},
		{"PARLEY_JOB_TIMEOUT", "job-timeout", "60s", "default time limit of one job attempt", durationSetter(func(c *Config) *time.Duration { return &c.JobTimeout })},
		{"PARLEY_JOB_RESCUE_AFTER", "job-rescue-after", "5m", "a job still running after this long (its process died) is retried", durationSetter(func(c *Config) *time.Duration { return &c.JobRescueAfter })},
		{"PARLEY_JOB_POLL", "job-poll", "50ms", "how often workers look for new jobs", durationSetter(func(c *Config) *time.Duration { return &c.JobPoll })},
		{"PARLEY_WORKERS", "workers", "50", "jobs worked at once by this process", intSetter(func(c *Config) *int { return &c.Workers }, 1)},
		{"PARLEY_PPROF_ADDR", "pprof-addr", "", "loopback host:port to serve Go's profiler (net/http/pprof) on; empty turns it off", func(c *Config, v string) error {
			if v != "" {
				host, _, err := net.SplitHostPort(v)
				if err != nil {
					return errors.New("want host:port, e.g. 127.0.0.1:6060")
				}
				// Profiles show internals (memory, command line): never
				// reachable from another machine.
				if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
					return fmt.Errorf("%q is not a loopback address: the profiler listens on 127.0.0.1, [::1] or localhost only", host)
				}
			}
			c.PprofAddr = v
			return nil
		}},
		{"PARLEY_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDR prefixes (or addresses) of reverse proxies whose X-Forwarded-For names the client; empty trusts none", func(c *Config, v string) error {
			p, err := ratelimit.ParseProxies(v)
			if err != nil {
				return fmt.Errorf("want CIDR prefixes such as 10.0.0.0/8,192.0.2.1: %w", err)
			}
			c.TrustedProxies = p
			return nil
		}},
		{"PARLEY_METRICS_TOKEN", "metrics-token", "", "bearer token GET /metrics requires; empty leaves /metrics open", func(c *Config, v string) error { c.MetricsToken = v; return nil }},
		{"PARLEY_DATABASE_MAX_CONNS", "database-max-conns", "20", "PostgreSQL connections this process opens at most (replicas × this must stay under the server's max_connections)",
			intSetter(func(c *Config) *int { return &c.DatabaseMaxConns }, 2)},
		{"PARLEY_FOLLOWUP_QUEUE_URL", "followup-queue-url", "", "an SQS queue URL, or nats://host:port/<stream>/<subject> for NATS JetStream, to read Follow-Up Requests from; empty: none", func(c *Config, v string) error {
			if v != "" {
				if err := checkQueueURL(v); err != nil {
					return err
				}
			}
			c.FollowUpQueueURL = v
			return nil
		}},
		{"PARLEY_SQS_ENDPOINT", "sqs-endpoint", "", "SQS-compatible endpoint to use instead of AWS's, e.g. http://127.0.0.1:9324", func(c *Config, v string) error {
			if v != "" {
				if err := checkHTTPURL(v); err != nil {
					return err
				}
			}
			c.SQSEndpoint = v
			return nil
		}},
		{"PARLEY_FOLLOWUP_DEAD_LETTER", "followup-dead-letter", "", "NATS subject malformed Follow-Up Requests are published to (SQS uses the queue's redrive policy); empty: they are logged and not redelivered", func(c *Config, v string) error {
			if strings.ContainsAny(v, " *>") {
				return errors.New("want a NATS subject without wildcards, e.g. followups.dead")
			}
			c.FollowUpDeadLetter = v
			return nil
		}},
		{"PARLEY_EVENTS_URL", "events-url", "", "where every conversation event is published (CloudEvents JSON): a NATS JetStream stream, nats://host:port/<stream> (subjects parley.<tenant>.<event>), or an SNS topic ARN; empty: none", func(c *Config, v string) error {
			if v != "" && !validEventsURL(v) {
				return errors.New("want nats://host:port/<stream> or an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)")
			}
			c.EventsURL = v
			return nil
		}},
		{"PARLEY_SNS_ENDPOINT", "sns-endpoint", "", "SNS-compatible endpoint to use instead of AWS's, for PARLEY_EVENTS_URL", func(c *Config, v string) error {
			if v != "" {
				if err := checkHTTPURL(v); err != nil {
					return err
				}
			}
			c.SNSEndpoint = v
			return nil
		}},
		{"PARLEY_OUTBOUND_ALLOW", "outbound-allow", "", "comma-separated CIDR ranges (e.g. 127.0.0.0/8) a tenant's SMTP server or webhook endpoint may be in, on any port; outside them only public addresses on ports 25, 465, 587 and 2525 (SMTP) or 80, 443, 8080 and 8443 (webhooks)", func(c *Config, v string) error {
			allow, err := netguard.ParseAllow(v)
			if err != nil {
				return err
			}
			c.OutboundAllow = allow
			return nil
		}},
	}
}

// validEventsURL accepts nats://host:port/<stream> or an SNS topic ARN.
func validEventsURL(v string) bool {
	if p := strings.Split(v, ":"); len(p) == 6 && p[0] == "arn" && p[2] == "sns" && p[3] != "" && p[5] != "" {
		return true
	}
	u, err := url.Parse(v)
	stream := ""
	if err == nil {
		stream = strings.Trim(u.Path, "/")
	}
	return err == nil && u.Scheme == "nats" && u.Host != "" && stream != "" && !strings.Contains(stream, "/")
}

// checkQueueURL accepts an SQS queue URL (http or https, with the queue's
// path) or nats://host:port/<stream>/<subject>.
func checkQueueURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return errors.New("want an SQS queue URL or nats://host:port/<stream>/<subject>")
	}
	switch u.Scheme {
	case "http", "https":
		if strings.Trim(u.Path, "/") == "" {
			return errors.New("an SQS queue URL names the queue in its path, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/followups")
		}
	case "nats":
		stream, subject, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if !ok || stream == "" || subject == "" {
			return errors.New("want nats://host:port/<stream>/<subject>")
		}
	default:
		return fmt.Errorf("unsupported scheme %q (want https:// for SQS or nats://)", u.Scheme)
	}
	return nil
}

func checkHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL")
	}
	return nil
}

func durationSetter(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New(`want a positive duration such as "30s" or "5m"`)
		}
		*field(c) = d
		return nil
	}
}

func floatSetter(field func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return errors.New("want a number of at least 0")
		}
		*field(c) = f
		return nil
	}
}

func intSetter(field func(*Config) *int, min int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("want a whole number of at least %d", min)
		}
		*field(c) = n
		return nil
	}
}

// Load fills a Config from the environment (getenv) and the flags in args.
// A bad value is an *Error naming the variable (or flag).
func Load(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	var c Config
	all := settings()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(usage)
	values := make([]*string, len(all))
	for i, s := range all {
		values[i] = new(string)
		// Flags carry no default of their own, so --help never prints a
		// value taken from the environment (it may be a secret).
		help := fmt.Sprintf("%s (env %s", s.help, s.env)
		if s.def != "" {
			help += fmt.Sprintf(", default %q", s.def)
		}
		fs.StringVar(values[i], s.flag, "", help+")")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, &Error{Var: "flags", Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return c, &Error{Var: "flags", Msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for i, s := range all {
		name, v := "--"+s.flag, *values[i]
		if !explicit[s.flag] {
			name, v = s.env, getenv(s.env)
			if v == "" {
				v = s.def
			}
		}
		if err := s.set(&c, strings.TrimSpace(v)); err != nil {
			return c, &Error{Var: name, Msg: err.Error()}
		}
	}
	if c.JobRescueAfter <= c.JobTimeout {
		return c, &Error{Var: "PARLEY_JOB_RESCUE_AFTER", Msg: "must be longer than PARLEY_JOB_TIMEOUT"}
	}
	return c, nil
}

// Table describes every variable for documentation: name, flag, default, meaning.
func Table() [][4]string {
	var out [][4]string
	for _, s := range settings() {
		out = append(out, [4]string{s.env, "--" + s.flag, s.def, s.help})
	}
	return out
}

// LLMConfigured reports whether an LLM endpoint is set; without one Parley
// runs its documented offline mode.
func (c Config) LLMConfigured() bool { return c.LLMBaseURL != "" }
