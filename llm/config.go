package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/parleyhq/parley/clock"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultBaseURL     = "https://api.openai.com/v1"
	DefaultTimeout     = 60 * time.Second
	DefaultMaxAttempts = 3
	DefaultMaxWait     = 30 * time.Second
)

// Names of the token limit field; OpenAI wants the first (reasoning models
// reject the second), Ollama only reads the second.
const (
	MaxCompletionTokens = "max_completion_tokens"
	MaxTokens           = "max_tokens"
)

// Config says which endpoint and model to use and how hard to try.
type Config struct {
	BaseURL string // e.g. http://localhost:11434/v1; default DefaultBaseURL
	APIKey  string // sent as a Bearer token; may be empty for local servers
	Model   string // required

	Timeout     time.Duration // per attempt; default DefaultTimeout
	MaxAttempts int           // requests per call, including the first; default DefaultMaxAttempts
	// MaxWait is the longest Retry-After the client waits out. A server asking
	// for more ends the call at once with ErrUnavailable and Error.RetryAfter
	// set, so a job queue can reschedule instead of holding a worker.
	MaxWait time.Duration

	Temperature    float64 // always sent: Ollama otherwise defaults to 1.0
	MaxTokens      int     // 0 sends no limit
	MaxTokensField string  // MaxCompletionTokens (default) or MaxTokens

	// Backoff is the wait before attempt n+1 after transient fault n (n ≥ 1)
	// when the server gave no Retry-After. Default: exponential from 500ms,
	// capped at 8s, with jitter.
	Backoff func(attempt int) time.Duration
	// Sleep waits d or until ctx ends. Tests inject one that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error

	HTTPClient *http.Client // default: a client of its own
	Logger     *slog.Logger // default: discard
	Clock      clock.Clock  // reads Retry-After dates; default clock.Real

	// Meter, when set, is asked before each call whether the tenant in the
	// context (parley.WithTenant) may spend more tokens, and told the tokens
	// of every answered request, including ones retried as unusable.
	Meter Meter
}

// Meter charges LLM tokens to tenants. tenantID is "" for a call made
// without a tenant in its context.
type Meter interface {
	// Allow returns an error wrapping ErrBudgetReached to stop the call
	// before any request; other errors are the meter's own (it should
	// rather log them and allow).
	Allow(ctx context.Context, tenantID string) error
	// Record is told the usage of one answered request.
	Record(ctx context.Context, tenantID string, u Usage)
}

// Enabled reports whether an LLM is configured at all. Without one Parley
// runs in its documented no-LLM mode.
func (c Config) Enabled() bool { return c.Model != "" }

// Validate reports the first problem with c (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Model == "" {
		return errors.New("llm: model is required (PARLEY_LLM_MODEL)")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("llm: base URL %q is not an http(s) URL", c.BaseURL)
	}
	if c.Timeout < 0 || c.MaxAttempts < 1 || c.MaxWait < 0 || c.MaxTokens < 0 {
		return errors.New("llm: timeout, max wait and max tokens must not be negative, max attempts at least 1")
	}
	if c.Temperature < 0 || c.Temperature > 2 {
		return fmt.Errorf("llm: temperature %v is outside 0–2", c.Temperature)
	}
	if c.MaxTokensField != MaxCompletionTokens && c.MaxTokensField != MaxTokens {
		return fmt.Errorf("llm: max tokens field must be %q or %q, not %q", MaxCompletionTokens, MaxTokens, c.MaxTokensField)
	}
	return nil
}

// LogValue keeps the API key out of logs.
func (c Config) LogValue() slog.Value {
	key := ""
	if c.APIKey != "" {
		key = "[redacted]"
	}
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("model", c.Model),
		slog.String("api_key", key),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_attempts", c.MaxAttempts),
	)
}

func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.MaxTokensField == "" {
		c.MaxTokensField = MaxCompletionTokens
	}
	if c.Backoff == nil {
		c.Backoff = ExponentialBackoff
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}

// ExponentialBackoff waits 500ms, 1s, 2s, 4s, then 8s, each less up to a
// quarter at random so that many workers do not retry in step.
func ExponentialBackoff(attempt int) time.Duration {
	d := 8 * time.Second
	if attempt < 5 {
		d = 500 * time.Millisecond << max(attempt-1, 0)
	}
	return d - time.Duration(rand.Int64N(int64(d/4)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ConfigFromEnv reads PARLEY_LLM_BASE_URL, PARLEY_LLM_API_KEY,
// PARLEY_LLM_MODEL, PARLEY_LLM_TIMEOUT (a Go duration), PARLEY_LLM_MAX_ATTEMPTS,
// PARLEY_LLM_TEMPERATURE, PARLEY_LLM_MAX_TOKENS and PARLEY_LLM_MAX_TOKENS_FIELD
// through getenv (os.Getenv in main). Unset values keep their defaults; a
// config without a model is not Enabled.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		BaseURL:        getenv("PARLEY_LLM_BASE_URL"),
		APIKey:         getenv("PARLEY_LLM_API_KEY"),
		Model:          getenv("PARLEY_LLM_MODEL"),
		MaxTokensField: getenv("PARLEY_LLM_MAX_TOKENS_FIELD"),
	}
	var errs []error
	if v := getenv("PARLEY_LLM_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("PARLEY_LLM_TIMEOUT=%q: want a positive duration such as 30s", v))
		}
		c.Timeout = d
	}
	atoi := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a whole number", name, v))
			}
			*dst = n
		}
	}
	atoi("PARLEY_LLM_MAX_ATTEMPTS", &c.MaxAttempts)
	atoi("PARLEY_LLM_MAX_TOKENS", &c.MaxTokens)
	if v := getenv("PARLEY_LLM_TEMPERATURE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("PARLEY_LLM_TEMPERATURE=%q: want a number", v))
		}
		c.Temperature = f
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("llm: %w", err)
	}
	return c, nil
}
