package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/parleyhq/parley"
)

// Retries are this package's own loop, not the SDK's (switched off with
// option.WithMaxRetries(0)): the SDK waits on real timers that tests cannot
// skip, counts only transport faults, and has no notion of an answer that
// arrived fine but is unusable. This loop counts every kind of fault
// against one bounded budget, Config.MaxAttempts.
//
// Which tools a conversation is offered is the caller's decision; the
// client sends exactly the tools it is given and rejects calls to others.

// retry makes up to MaxAttempts requests until one gives an answer that
// passes check. Transient faults wait (Retry-After, else Backoff); unusable
// output is retried at once; permanent faults end the call.
func (c *Client) retry(ctx context.Context, p openai.ChatCompletionNewParams, check func(*Response) error) (*Response, error) {
	for attempt := 1; ; attempt++ {
		resp, fail := c.attempt(ctx, p, check)
		if fail == nil {
			resp.Attempts = attempt
			return resp, nil
		}
		if ctx.Err() != nil {
			// The caller gave up (or its own deadline passed): not our fault
			// to classify, and no point in trying again.
			return nil, fmt.Errorf("llm: %w", context.Cause(ctx))
		}
		fail.Attempts = attempt
		if fail.Kind == ErrPermanent || attempt >= c.cfg.MaxAttempts {
			return nil, fail
		}
		var wait time.Duration
		if fail.Kind == ErrUnavailable {
			wait = c.cfg.Backoff(attempt)
			if fail.RetryAfter > 0 {
				if fail.RetryAfter > c.cfg.MaxWait {
					return nil, fail
				}
				wait = fail.RetryAfter
			}
		}
		var oe *outputError
		if errors.As(fail.Err, &oe) && oe.repair {
			p.Messages = withRepair(p.Messages, oe)
		}
		c.cfg.Logger.WarnContext(ctx, "llm: retrying",
			slog.Int("attempt", attempt), slog.Int("status", fail.StatusCode),
			slog.Duration("wait", wait), slog.String("error", fail.Err.Error()))
		if wait > 0 {
			if err := c.cfg.Sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("llm: waiting to retry: %w", err)
			}
		}
	}
}

// withRepair shows the model its invalid answer and why, which helps local
// models that are not grammar-constrained get it right the second time. It
// copies: the caller's slice is shared across attempts.
func withRepair(msgs []openai.ChatCompletionMessageParamUnion, oe *outputError) []openai.ChatCompletionMessageParamUnion {
	return append(slices.Clip(msgs),
		openai.AssistantMessage(oe.content),
		openai.UserMessage("That answer was not valid: "+oe.reason+". Answer again with only JSON that matches the schema."),
	)
}

// attempt makes one request under its own timeout.
func (c *Client) attempt(ctx context.Context, p openai.ChatCompletionNewParams, check func(*Response) error) (*Response, *Error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var raw *http.Response
	cc, err := c.chat.New(actx, p, option.WithResponseInto(&raw))
	status := 0
	var header http.Header
	if raw != nil {
		status, header = raw.StatusCode, raw.Header
	}
	if err != nil {
		return nil, c.classify(actx, status, header, err)
	}
	if c.cfg.Meter != nil {
		// Every answered request is billed, usable or not.
		c.cfg.Meter.Record(ctx, parley.TenantFrom(ctx), Usage{PromptTokens: cc.Usage.PromptTokens,
			CompletionTokens: cc.Usage.CompletionTokens, TotalTokens: cc.Usage.TotalTokens})
	}
	resp, err := response(cc)
	if err == nil {
		err = check(resp)
	}
	if err != nil {
		return nil, &Error{Kind: ErrInvalidOutput, StatusCode: status, Err: err}
	}
	return resp, nil
}

// classify decides whether a failed request is worth repeating.
func (c *Client) classify(actx context.Context, status int, header http.Header, err error) *Error {
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: ErrUnavailable, StatusCode: status,
			Err: fmt.Errorf("%w after %s: %w", ErrTimeout, c.cfg.Timeout, context.DeadlineExceeded)}
	}
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		if status >= 200 && status < 300 {
			// The server said OK but sent something that is not a completion.
			return &Error{Kind: ErrInvalidOutput, StatusCode: status,
				Err: fmt.Errorf("response body is not a chat completion: %w", err)}
		}
		// No answer at all: refused or dropped connection, reset, EOF.
		return &Error{Kind: ErrUnavailable, StatusCode: status, Err: fmt.Errorf("request failed: %w", err)}
	}

	e := &Error{Kind: ErrPermanent, StatusCode: apiErr.StatusCode, RetryAfter: c.retryAfter(header)}
	e.Err = fmt.Errorf("server answered %d %s", apiErr.StatusCode, http.StatusText(apiErr.StatusCode))
	if apiErr.Message != "" || apiErr.Code != "" {
		e.Err = fmt.Errorf("%w: %s (type %q, code %q)", e.Err, apiErr.Message, apiErr.Type, apiErr.Code)
	}
	switch s := apiErr.StatusCode; {
	case header.Get("x-should-retry") == "true":
		e.Kind = ErrUnavailable
	case header.Get("x-should-retry") == "false":
	case s == http.StatusTooManyRequests:
		// A rate limit passes; an exhausted quota does not.
		if apiErr.Code != "insufficient_quota" {
			e.Kind = ErrUnavailable
		}
	case s == http.StatusRequestTimeout, s == http.StatusConflict, s >= 500:
		e.Kind = ErrUnavailable
	}
	return e
}

// retryAfter reads the server's requested wait: retry-after-ms (OpenAI), or
// Retry-After in seconds or as an HTTP date. Zero when absent or unreadable.
func (c *Client) retryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && !math.IsInf(ms, 0) {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case s <= 0 || math.IsNaN(s):
			return 0
		case s >= math.MaxInt64/float64(time.Second):
			return math.MaxInt64 // longer than anyone waits
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(c.cfg.Clock.Now()), 0)
	}
	return 0
}
