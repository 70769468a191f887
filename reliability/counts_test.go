//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/store"
)

// counts are what a run checks: in the database and at the fake Graph API.
type counts struct {
	acknowledged int // customer messages acknowledged with 200
	stored       int // customer messages stored
	distinct     int // … with distinct WhatsApp ids
	// Inside the database: one answer per question, once.
	answersStored, answersStoredDistinct int
	holdingStored                        int
	// At the fake Graph API, per (customer, question).
	answered, doubled, missing int
	holdingSent                int
	// Follow-ups: stored per conversation, and sent.
	followUpsStored, followUpsStoredConvs int
	followUpsSent, followUpsDoubled       int
	followUpsMissing                      int
}

func (c counts) String() string {
	s := fmt.Sprintf("%d messages acknowledged; stored %d (%d distinct); answers stored %d (%d distinct questions), holding replies %d; "+
		"at the Graph API %d questions answered, %d doubled sends, %d never answered, %d holding replies",
		c.acknowledged, c.stored, c.distinct, c.answersStored, c.answersStoredDistinct, c.holdingStored,
		c.answered, c.doubled, c.missing, c.holdingSent)
	if c.followUpsStored+c.followUpsSent > 0 {
		s += fmt.Sprintf("; follow-ups stored %d (in %d conversations), sent %d (%d doubled, %d missing)",
			c.followUpsStored, c.followUpsStoredConvs, c.followUpsSent, c.followUpsDoubled, c.followUpsMissing)
	}
	return s
}

// settle waits until no answer or send is left to work (killed jobs are
// rescued, sends waiting for a status are decided), so that every double a
// crash can make has been made before the counts are taken.
func settle(t *testing.T, dsn string, within time.Duration) {
	t.Helper()
	s, err := store.Open(context.Background(), dsn, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(within)
	for {
		var left int
		err := s.DB().QueryRow(`SELECT count(*) FROM river_job WHERE kind IN ('send_whatsapp_business_text_message', 'generate_ai_agent_answer',
			'request_notification', 'deliver_notification_answer')
			AND state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&left)
		if err == nil && left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d answer or send jobs still unfinished after %s (err %v)", left, within, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// count reads the database and the fake Graph API's record. followUps
// says whether each customer should have had exactly one follow-up.
func count(t *testing.T, w *world, dsn string, phones []string, messages int, followUps bool) counts {
	t.Helper()
	s, err := store.Open(context.Background(), dsn, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := counts{acknowledged: len(phones) * messages}
	db := s.DB()
	scan := func(q string, args []any, dst ...any) {
		if err := db.QueryRow(q, args...).Scan(dst...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	scan(`SELECT count(*), count(DISTINCT channel_message_id) FROM messages WHERE role = 'customer'`, nil, &c.stored, &c.distinct)
	scan(`SELECT count(*), count(DISTINCT conversation_id || ' ' || content) FROM messages WHERE role = 'ai' AND content LIKE 'Answer to question %'`, nil,
		&c.answersStored, &c.answersStoredDistinct)
	scan(`SELECT count(*) FROM messages WHERE role = 'ai' AND content LIKE $1`, []any{"%" + holdingMark + "%"}, &c.holdingStored)
	scan(`SELECT count(*), count(DISTINCT conversation_id) FROM messages WHERE role = 'ai' AND content = $1`, []any{followUpText},
		&c.followUpsStored, &c.followUpsStoredConvs)

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range phones {
		for n := 0; n < messages; n++ {
			switch got := w.answers[reply{p, n}]; {
			case got == 0:
				c.missing++
			default:
				c.answered++
				c.doubled += got - 1
			}
		}
		c.holdingSent += w.holding[p]
		got := w.followUps[p]
		c.followUpsSent += got
		if followUps && got == 0 {
			c.followUpsMissing++
		}
		if got > 1 {
			c.followUpsDoubled += got - 1
		}
	}
	if len(w.others) > 0 {
		t.Errorf("%d unexpected sends, e.g. %q", len(w.others), w.others[0])
	}
	return c
}

// report prints the counts where CI's log shows them.
func report(t *testing.T, what string, c counts) {
	t.Helper()
	line := fmt.Sprintf("%s; %s", what, c)
	t.Log(line)
	fmt.Println("reliability:", t.Name()+":", line)
}

// checkStoredOnce holds in every test: each acknowledged message stored
// once, each question answered once in the database, and none missing at
// the Graph API. A question answered by a holding reply (the model
// failed) counts as answered.
func checkStoredOnce(t *testing.T, c counts) {
	t.Helper()
	if c.stored != c.acknowledged || c.distinct != c.acknowledged {
		t.Errorf("stored %d customer messages (%d distinct), want each of the %d acknowledged once", c.stored, c.distinct, c.acknowledged)
	}
	if c.answersStored != c.answersStoredDistinct {
		t.Errorf("%d answers stored for %d questions: a question was answered twice inside the database", c.answersStored, c.answersStoredDistinct)
	}
	if c.answersStored+c.holdingStored != c.acknowledged {
		t.Errorf("%d answers and %d holding replies stored for %d messages, want one each", c.answersStored, c.holdingStored, c.acknowledged)
	}
	if c.missing > c.holdingSent {
		t.Errorf("%d questions never answered at the Graph API (%d holding replies)", c.missing, c.holdingSent)
	}
}

// checkFollowUps holds where follow-ups ran: one per customer's session,
// stored once, and sent at least once.
func checkFollowUps(t *testing.T, c counts, customers int) {
	t.Helper()
	if c.followUpsStored != customers || c.followUpsStoredConvs != customers {
		t.Errorf("%d follow-ups stored in %d conversations, want exactly one in each of %d", c.followUpsStored, c.followUpsStoredConvs, customers)
	}
	if c.followUpsMissing > 0 {
		t.Errorf("%d customers never got their follow-up", c.followUpsMissing)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
