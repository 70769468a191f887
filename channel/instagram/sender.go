package instagram

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel/meta"
)

// Defaults of Client.
const (
	// DefaultBaseURL is the Instagram Login host (§1); a channel connected
	// through Facebook Login uses https://graph.facebook.com.
	DefaultBaseURL    = "https://graph.instagram.com"
	DefaultAPIVersion = "v23.0"
	DefaultTimeout    = 15 * time.Second
)

// Limits of a send (§3).
const (
	// MaxText is the longest text of one message, in characters (§3:
	// 1,000; unverified for every API version). Longer replies are split
	// by the provider (SplitText), never cut.
	MaxText = 1000
	// MaxQuickReplies is how many quick replies one message carries.
	MaxQuickReplies = 13
	// MaxQuickReplyTitle is a quick reply's title length, in characters.
	MaxQuickReplyTitle = 20
)

// TagHumanAgent lets a person's reply go up to 7 days after the customer's
// last message (§4).
const TagHumanAgent = "HUMAN_AGENT"

// Outbound is one message to send (§3).
type Outbound struct {
	To           string // the customer's IGSID
	Text         string
	QuickReplies []QuickReplyOut
	// HumanAgent adds the HUMAN_AGENT tag: only for a reply a person wrote (§4).
	HumanAgent bool
	// AttachmentType and AttachmentURL send an attachment instead of text.
	AttachmentType, AttachmentURL string
}

// Validate refuses what Meta would refuse, before any HTTP call.
func (o Outbound) Validate() error {
	if o.To == "" || strings.ContainsFunc(o.To, func(r rune) bool { return r < '0' || r > '9' }) {
		return parley.FieldError("to", "%q is not an Instagram-scoped id", o.To)
	}
	if o.AttachmentURL != "" {
		if o.Text != "" || len(o.QuickReplies) > 0 {
			return parley.FieldError("attachment", "an attachment goes without text or quick replies")
		}
		return nil
	}
	if strings.TrimSpace(o.Text) == "" {
		return parley.FieldError("text", "is required")
	}
	if n := utf8.RuneCountInString(o.Text); n > MaxText {
		return parley.FieldError("text", "is %d characters; Instagram takes at most %d", n, MaxText)
	}
	if len(o.QuickReplies) > MaxQuickReplies {
		return parley.FieldError("quick_replies", "%d given; Instagram takes at most %d", len(o.QuickReplies), MaxQuickReplies)
	}
	for i, q := range o.QuickReplies {
		if q.Title == "" || utf8.RuneCountInString(q.Title) > MaxQuickReplyTitle {
			return parley.FieldError(fmt.Sprintf("quick_replies[%d].title", i), "must be 1 to %d characters", MaxQuickReplyTitle)
		}
		if q.Payload == "" {
			return parley.FieldError(fmt.Sprintf("quick_replies[%d].payload", i), "is required")
		}
	}
	return nil
}

func (o Outbound) request() SendRequest {
	r := SendRequest{Recipient: Party{ID: o.To}}
	if o.HumanAgent {
		r.MessagingType, r.Tag = "MESSAGE_TAG", TagHumanAgent
	}
	if o.AttachmentURL != "" {
		r.Message.Attachment = &AttachmentOut{Type: o.AttachmentType, Payload: AttachmentPayload{URL: o.AttachmentURL}}
		return r
	}
	r.Message.Text = o.Text
	for _, q := range o.QuickReplies {
		if q.ContentType == "" {
			q.ContentType = "text"
		}
		r.Message.QuickReplies = append(r.Message.QuickReplies, q)
	}
	return r
}

// Client sends through the Instagram messaging API. One attempt per call;
// safe for concurrent use. The zero value talks to Meta with the defaults.
type Client struct {
	BaseURL    string       // default DefaultBaseURL; a fake's URL in tests
	APIVersion string       // default DefaultAPIVersion
	HTTP       *http.Client // default: a client with DefaultTimeout
}

var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

// Send sends m from the business account and returns the mid Meta gave
// it. Invalid input is a *parley.Error before any HTTP call; every other
// failure is a *SendError.
func (c *Client) Send(ctx context.Context, token, accountID string, m Outbound) (string, error) {
	if err := validCredentials(token, accountID); err != nil {
		return "", err
	}
	if err := m.Validate(); err != nil {
		return "", err
	}
	var resp SendResponse
	if err := c.call(ctx, http.MethodPost, accountID+"/messages", nil, token, m.request(), &resp); err != nil {
		return "", err
	}
	if resp.MessageID == "" {
		// Meta accepted the request; a retry could send it twice.
		return "", &SendError{API: Name, HTTPStatus: http.StatusOK, Message: "answer without a message id"}
	}
	return resp.MessageID, nil
}

// GetAccount reads the account's id and username with token: the channel
// check, proving the token speaks for the account.
func (c *Client) GetAccount(ctx context.Context, token, accountID string) (Account, error) {
	if err := validCredentials(token, accountID); err != nil {
		return Account{}, err
	}
	var a Account
	err := c.call(ctx, http.MethodGet, accountID, url.Values{"fields": {"id,username,name"}}, token, nil, &a)
	if err == nil && a.ID != accountID {
		return a, &SendError{API: Name, HTTPStatus: http.StatusOK, Code: CodeInvalidParam,
			Message: fmt.Sprintf("the token answers for account %s, not %s", a.ID, accountID)}
	}
	return a, err
}

// validCredentials refuses a token that would break the header and an
// account id that would change the path.
func validCredentials(token, accountID string) error {
	if err := meta.CheckToken(token); err != nil {
		return err
	}
	if !ValidAccountID(accountID) {
		return parley.FieldError("instagram_account_id", "%q is not a numeric Instagram account id", accountID)
	}
	return nil
}

// ValidAccountID reports whether id looks like an Instagram account id:
// digits only.
func ValidAccountID(id string) bool {
	_, err := strconv.ParseUint(id, 10, 64)
	return err == nil && !strings.HasPrefix(id, "+")
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values, token string, in, out any) error {
	g := meta.Graph{API: Name, BaseURL: c.BaseURL, Version: c.APIVersion, HTTP: c.HTTP,
		Retry: retryable, Hint: rateHint, MaxRetryAfter: time.Hour}
	if g.BaseURL == "" {
		g.BaseURL = DefaultBaseURL
	}
	if g.Version == "" {
		g.Version = DefaultAPIVersion
	}
	if g.HTTP == nil {
		g.HTTP = defaultHTTP
	}
	return g.Call(ctx, method, path, q, token, in, out)
}
