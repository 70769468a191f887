package whatsapptest

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// SendStatuses makes the fake behave like Meta after it accepts a send: it
// posts a signed "sent" status webhook for the message to url (Parley's
// /webhooks/whatsapp), echoing the send's biz_opaque_callback_data, and
// redelivers it until it is answered 200 or the fake closes. An empty url
// stops it. Statuses arrive in no particular order, as Meta's do.
func (f *FakeGraph) SendStatuses(url, appSecret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statusURL, f.statusSecret = url, appSecret
}

// StatusesPending counts status webhooks not yet acknowledged.
func (f *FakeGraph) StatusesPending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statusPending
}

// postStatus delivers the status of an accepted send (see SendStatuses).
func (f *FakeGraph) postStatus(n Number, m SentMessage) {
	f.mu.Lock()
	url, secret := f.statusURL, f.statusSecret
	if url == "" {
		f.mu.Unlock()
		return
	}
	f.statusPending++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.statusPending--
		f.notify()
		f.mu.Unlock()
	}()
	body := StatusWebhook(StatusEvent{
		PhoneNumberID: n.ID, DisplayNumber: digitsOf(n.Display), MessageID: m.ID, Status: "sent",
		RecipientID: strings.TrimPrefix(m.To, "+"), Time: time.Now(), CallbackData: m.CallbackData,
	})
	sig := Sign(secret, body)
	client := &http.Client{Timeout: 10 * time.Second}
	wait := 100 * time.Millisecond
	for {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return // a URL that cannot be a request will never be delivered
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sig)
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		// Meta backs off between redeliveries; jitter keeps a crowd of
		// them from arriving in lockstep after an outage.
		select {
		case <-f.closed:
			return
		case <-time.After(wait + rand.N(wait)):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SetFaultRate makes a share of valid sends misbehave, like a flaky Graph
// API under load: each send no scripted response is queued for takes, with
// probability rate, one of mix at random (DefaultFaults when mix is
// empty). Rate 0 turns it off. Scripted responses still come first.
func (f *FakeGraph) SetFaultRate(rate float64, mix ...Response) {
	if len(mix) == 0 {
		mix = DefaultFaults()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faultRate, f.faultMix = rate, mix
}

// Faults counts the sends SetFaultRate made misbehave.
func (f *FakeGraph) Faults() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faults
}

// DefaultFaults is the mix SetFaultRate draws from: rate limits with and
// without Retry-After, server errors with and without a Graph body, a
// dropped connection and a slow answer.
func DefaultFaults() []Response {
	return []Response{
		RateLimited("1"), RateLimited(""),
		ServerError(http.StatusInternalServerError), ServerError(http.StatusServiceUnavailable), ErrorCode(131000),
		Drop(), Slow(2 * time.Second),
	}
}

// randomFault draws a fault for one send, if the rate says so.
func (f *FakeGraph) randomFault() (Response, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.faultRate <= 0 || rand.Float64() >= f.faultRate {
		return Response{}, false
	}
	f.faults++
	return f.faultMix[rand.IntN(len(f.faultMix))], true
}
