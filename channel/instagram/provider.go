package instagram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
	"github.com/parleyhq/parley/channel/meta"
	"github.com/parleyhq/parley/clock"
)

// Name is the provider's name in metrics and logs.
const Name = "instagram"

// Provider is Instagram Direct as a channel.Provider: it receives Meta's
// webhooks with object "instagram" (signed with the same app secret as
// WhatsApp's) and sends through Client.
type Provider struct {
	Client      *Client
	AppSecret   string // the Meta app's secret (X-Hub-Signature-256)
	VerifyToken string // the subscription handshake's hub.verify_token
	Clock       clock.Clock
	Log         *slog.Logger
}

var (
	_ channel.Provider       = (*Provider)(nil)
	_ channel.StatusReporter = (*Provider)(nil)
	_ channel.Owners         = (*Provider)(nil)
)

// receiver is package meta's webhook plumbing with this provider's
// secrets: the same handshake and signature as WhatsApp's (§1).
func (p *Provider) receiver() meta.Receiver {
	return meta.Receiver{Name: Name, Title: "Instagram", RouteKey: "account_id",
		AppSecret: p.AppSecret, VerifyToken: p.VerifyToken, Log: p.log()}
}

func (p *Provider) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

func (p *Provider) now() clock.Clock {
	if p.Clock == nil {
		return clock.Real{}
	}
	return p.Clock
}

// Mount adds GET (the handshake) and POST (notifications) /webhooks/instagram.
func (p *Provider) Mount(m channel.Mux, in channel.Intake) {
	p.receiver().Mount(m, in, p.parser(in))
}

// ReportsStatuses: Instagram posts no sent or delivered statuses (only
// reads), so a send whose outcome was lost is not waited for.
func (*Provider) ReportsStatuses(parley.Channel) bool { return false }

// Send sends msg to the conversation's customer (its IGSID) from the
// channel's account. Text past MaxText is split at paragraph, line or word
// boundaries and sent in order; the first part's mid is returned. A
// person's reply past 24 hours carries the HUMAN_AGENT tag (§4); the send
// stage has already refused what the window does not allow.
func (p *Provider) Send(ctx context.Context, ch parley.Channel, conv parley.Conversation, msg parley.Message) (string, error) {
	to, ok := parley.InstagramID(conv.ContactPhone)
	if !ok {
		return "", parley.FieldError("contact", "%q is not an Instagram contact", conv.ContactPhone)
	}
	if msg.Template != nil {
		return "", parley.Errorf(parley.CodeInvalid, "Instagram has no message templates")
	}
	human := ch.Type.Window().NeedsTag(conv.LastCustomerMessageAt, msg.Role, p.now().Now())
	outs, err := outboundsOf(to, msg)
	if err != nil {
		return "", err
	}
	first := ""
	for _, o := range outs {
		o.HumanAgent = human
		mid, err := p.Client.Send(ctx, ch.AccessToken, ch.PhoneNumberID, o)
		if err != nil {
			return "", err
		}
		if first == "" {
			first = mid
		}
	}
	return first, nil
}

// outboundsOf turns a stored message into the sends it takes: quick
// replies for reply buttons and list rows (up to 13, on the last part),
// the text split past MaxText.
func outboundsOf(to string, m parley.Message) ([]Outbound, error) {
	in, err := channel.InteractiveOf(m)
	if err != nil {
		return nil, err
	}
	text := m.Content
	var quick []QuickReplyOut
	if in != nil {
		choices := in.Buttons
		for _, s := range in.Sections {
			choices = append(choices, s.Rows...)
		}
		if len(choices) > MaxQuickReplies {
			return nil, parley.FieldError("extra.interactive", "%d choices; Instagram quick replies take at most %d", len(choices), MaxQuickReplies)
		}
		for _, c := range choices {
			quick = append(quick, QuickReplyOut{ContentType: "text", Title: clip(c.Title, MaxQuickReplyTitle), Payload: c.ID})
		}
		if in.Header != "" {
			text = in.Header + "\n\n" + text
		}
		if in.Footer != "" {
			text += "\n\n" + in.Footer
		}
	}
	parts := SplitText(text, MaxText)
	if len(parts) == 0 {
		return nil, parley.FieldError("content", "is empty")
	}
	outs := make([]Outbound, len(parts))
	for i, s := range parts {
		outs[i] = Outbound{To: to, Text: s}
	}
	outs[len(outs)-1].QuickReplies = quick
	return outs, nil
}

// SplitText cuts text into parts of at most max characters, at the last
// paragraph break, else line break, else space of each part; a word longer
// than max is cut. Parts are trimmed; empty parts are dropped.
func SplitText(text string, max int) []string {
	var out []string
	for {
		text = strings.TrimSpace(text)
		if text == "" {
			return out
		}
		if utf8.RuneCountInString(text) <= max {
			return append(out, text)
		}
		cut := byteIndexOfRune(text, max) // the first max runes are text[:cut]
		head := text[:cut]
		at := -1
		for _, sep := range []string{"\n\n", "\n", " "} {
			if i := strings.LastIndex(head, sep); i > 0 {
				at = i
				break
			}
		}
		if at < 0 {
			at = cut
		}
		out = append(out, strings.TrimSpace(text[:at]))
		text = text[at:]
	}
}

func byteIndexOfRune(s string, n int) int {
	i := 0
	for pos := range s {
		if i == n {
			return pos
		}
		i++
	}
	return len(s)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// Classify reads a *SendError: Meta's refusal outside the window is
// recorded as outside_window, a dead token says the channel needs a new one.
func (*Provider) Classify(err error) (channel.Failure, bool) {
	var se *SendError
	if !errors.As(err, &se) {
		return channel.Failure{}, false
	}
	f := channel.Failure{Code: fmt.Sprint(se.Code), Reason: se.Message, Retryable: se.Retryable, Wait: se.RetryAfter}
	switch {
	case se.Code == 0:
		f.Code = fmt.Sprintf("http_%d", se.HTTPStatus)
	case outsideWindow(se):
		f.Code = channel.CodeOutsideWindow
		f.Reason = "Instagram refused the send outside the messaging window: " + se.Message
	case se.Code == CodeTokenInvalid:
		f.Reason = "the channel's access token expired or was revoked; set a new one (PATCH /api/channels/{id}): " + se.Message
	}
	if se.Subcode != 0 && f.Code != channel.CodeOutsideWindow {
		f.Reason += fmt.Sprintf(" (subcode %d)", se.Subcode)
	}
	return f, true
}

// GetPhoneNumber is the channel check (channel.PhoneNumbers): it reads the
// account with the channel's token, proving the token speaks for it, and
// gives its @username as the display name.
func (p *Provider) GetPhoneNumber(ctx context.Context, token, accountID string) (display, verifiedName string, err error) {
	a, err := p.Client.GetAccount(ctx, token, accountID)
	if err != nil {
		return "", "", err
	}
	name := a.Name
	if name == "" {
		name = a.Username
	}
	if a.Username != "" {
		display = "@" + a.Username
	}
	return display, name, nil
}
