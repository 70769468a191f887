package channel

import (
	"context"
	"errors"
	"time"

	"github.com/parleyhq/parley"
)

// Provider is one messaging provider as the send stage sees it: send one
// message on a channel of its type, and read its own send errors. The
// stage does everything else (claims, the 24-hour rule, budgets, retries,
// marks) the same way for every provider.
type Provider interface {
	// Send sends msg to the conversation's contact on ch and returns the
	// provider's id for it.
	Send(ctx context.Context, ch parley.Channel, conv parley.Conversation, msg parley.Message) (providerID string, err error)
	// Classify reads an error Send returned; ok is false when the error is
	// not one of the provider's own (the stage then decides).
	Classify(err error) (f Failure, ok bool)
}

// Failure is a send error in provider-neutral terms.
type Failure struct {
	Code, Reason string
	Retryable    bool
	// Wait is the least wait before a retry, when the provider said.
	Wait time.Duration
}

// providers is the Provider for each channel type the stage sends on:
// Sender.Providers when set, else the built-in WhatsApp and Twilio ones
// over Sender's clients.
func (s *Sender) providers() map[parley.ChannelType]Provider {
	if s.Providers != nil {
		return s.Providers
	}
	return map[parley.ChannelType]Provider{
		parley.ChannelWhatsApp: whatsAppProvider{s},
		parley.ChannelTwilio:   twilioProvider{s},
	}
}

// classify reads a send error: the provider's own first, then Parley's
// refusals (a *parley.Error: the message is invalid). ok is false for
// errors that are not about the message (the database, a cancelled
// context): those are retried.
func classify(p Provider, err error) (Failure, bool) {
	if f, ok := p.Classify(err); ok {
		return f, true
	}
	var pe *parley.Error
	if errors.As(err, &pe) {
		return Failure{Code: CodeInvalidMessage, Reason: pe.Error()}, true
	}
	return Failure{}, false
}
