package whatsapp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/meta"
	"github.com/parleyhq/parley/clock"
)

// Defaults of Config.
const (
	DefaultBaseURL    = "https://graph.facebook.com"
	DefaultAPIVersion = "v23.0"
	DefaultTimeout    = 15 * time.Second
)

// Config configures a Client. The zero value talks to Meta with the defaults.
type Config struct {
	BaseURL    string       // default DefaultBaseURL; a fake's URL in tests
	APIVersion string       // default DefaultAPIVersion, e.g. "v24.0"
	HTTPClient *http.Client // default: a client with DefaultTimeout
	// RateLimit is the default messages per second per business number:
	// 0 means DefaultRateLimit (80), a negative value means no limit. Use
	// SetRateLimit for numbers with another throughput (§6).
	RateLimit float64
	Clock     clock.Clock // read by the rate limiter and Retry-After dates; default clock.Real
	// Sleep waits for the rate limiter, returning early with ctx's error;
	// tests inject one that moves a fake clock. Default: a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client sends messages through the Graph API. It makes one attempt per
// call and never retries: callers are durable jobs that retry a
// Retryable(err) with RetryDelay, and mark the message failed otherwise.
// A Client is safe for concurrent use.
type Client struct {
	graph   meta.Graph
	limiter *limiter
}

// NewClient checks cfg, fills its defaults and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("whatsapp: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if !validVersion(cfg.APIVersion) {
		return nil, fmt.Errorf("whatsapp: API version %q is not like v23.0", cfg.APIVersion)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepContext
	}
	return &Client{
		graph: meta.Graph{
			API: Name, BaseURL: cfg.BaseURL, Version: cfg.APIVersion, HTTP: cfg.HTTPClient,
			Now: cfg.Clock.Now, Retry: classify, Hint: codeHint,
		},
		limiter: &limiter{clock: cfg.Clock, sleep: cfg.Sleep, rate: cfg.RateLimit},
	}, nil
}

// SetRateLimit sets one number's throughput in messages per second: 0
// restores the default, a negative value lifts the limit.
func (c *Client) SetRateLimit(phoneNumberID string, perSecond float64) {
	c.limiter.setRate(phoneNumberID, perSecond)
}

// Send sends m from the number phoneNumberID and returns the wamid Meta
// assigned; statuses for it arrive later by webhook. Invalid input gives a
// *parley.Error before any HTTP call; every other failure is a *SendError.
// Send waits for the number's rate limit, as long as ctx allows.
func (c *Client) Send(ctx context.Context, token, phoneNumberID string, m Outbound) (string, error) {
	if err := validCredentials(token, phoneNumberID); err != nil {
		return "", err
	}
	if err := m.Validate(); err != nil {
		return "", err
	}
	if err := c.limiter.wait(ctx, phoneNumberID); err != nil {
		return "", &SendError{API: Name, Retryable: true, Message: "waiting for the rate limit", Err: err}
	}
	var resp SendResponse
	if err := c.graph.Call(ctx, http.MethodPost, phoneNumberID+"/messages", nil, token, m.request(), &resp); err != nil {
		return "", err
	}
	if len(resp.Messages) == 0 || resp.Messages[0].ID == "" {
		// Meta accepted the request; retrying could send it twice.
		return "", &SendError{API: Name, HTTPStatus: http.StatusOK, Message: "answer without a message id"}
	}
	return resp.Messages[0].ID, nil
}

// MarkRead marks the inbound message wamid as read (blue ticks) and shows a
// typing indicator until the next message we send (§3).
func (c *Client) MarkRead(ctx context.Context, token, phoneNumberID, wamid string) error {
	if err := validCredentials(token, phoneNumberID); err != nil {
		return err
	}
	if strings.TrimSpace(wamid) == "" {
		return parley.FieldError("message_id", "is required")
	}
	req := MarkReadRequest{
		MessagingProduct: "whatsapp",
		Status:           "read",
		MessageID:        wamid,
		TypingIndicator:  &TypingIndicator{Type: "text"},
	}
	return c.graph.Call(ctx, http.MethodPost, phoneNumberID+"/messages", nil, token, req, &struct{}{})
}

// GetPhoneNumber reads the number's display form and verified business name;
// it checks that a channel's token and phone number id work together.
func (c *Client) GetPhoneNumber(ctx context.Context, token, phoneNumberID string) (display, verifiedName string, err error) {
	if err := validCredentials(token, phoneNumberID); err != nil {
		return "", "", err
	}
	q := url.Values{"fields": {"display_phone_number,verified_name"}}
	var pn PhoneNumber
	if err := c.graph.Call(ctx, http.MethodGet, phoneNumberID, q, token, nil, &pn); err != nil {
		return "", "", err
	}
	return pn.DisplayPhoneNumber, pn.VerifiedName, nil
}

// validVersion accepts Graph versions like "v23.0".
func validVersion(v string) bool {
	major, minor, ok := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	digits := func(s string) bool {
		return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	}
	return ok && strings.HasPrefix(v, "v") && digits(major) && digits(minor)
}

// validCredentials refuses what cannot make a sane request: a token that
// would break the header, a number id that would change the path.
func validCredentials(token, phoneNumberID string) error {
	if err := meta.CheckToken(token); err != nil {
		return err
	}
	if phoneNumberID == "" || strings.ContainsFunc(phoneNumberID, func(r rune) bool { return r < '0' || r > '9' }) {
		return parley.FieldError("phone_number_id", "%q is not a numeric phone number id", phoneNumberID)
	}
	return nil
}
