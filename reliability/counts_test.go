//go:build reliability

package reliability

import (
	"context"
	"database/sql"
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
	// followUpsExplained shows the conversations with more than one
	// follow-up stored: their decisions and timelines.
	followUpsExplained string
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
		// The stages' rows count too: inbox messages not yet taken in,
		// conversations waiting for their answer, messages not yet sent.
		err := s.DB().QueryRow(`SELECT (SELECT count(*) FROM river_job WHERE kind IN ('generate_ai_agent_answer',
			'request_notification', 'deliver_notification_answer')
			AND state NOT IN ('completed', 'cancelled', 'discarded'))
			+ (SELECT count(*) FROM channel_inbox WHERE processed_at IS NULL)
			+ (SELECT count(*) FROM answer_queue)
			+ (SELECT count(*) FROM messages WHERE status = 'queued')`).Scan(&left)
		if err == nil && left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d inbox messages, answers or send jobs still unfinished after %s (err %v)", left, within, err)
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

	if c.followUpsStored > c.followUpsStoredConvs {
		c.followUpsExplained = explainFollowUps(t, db)
	}

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
	if c.followUpsExplained != "" {
		t.Errorf("conversations with more than one follow-up:\n%s", c.followUpsExplained)
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

// explainFollowUps describes up to three conversations holding more than
// one follow-up message: each follow-up decision (rule, session, outcome)
// and the conversation's messages and session times, in order.
func explainFollowUps(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT conversation_id FROM messages WHERE role = 'ai' AND content = $1
		GROUP BY conversation_id HAVING count(*) > 1 LIMIT 3`, followUpText)
	if err != nil {
		return err.Error()
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	var b strings.Builder
	at := func(us sql.NullInt64) string {
		if !us.Valid {
			return "-"
		}
		return time.UnixMicro(us.Int64).UTC().Format("15:04:05.000000")
	}
	for _, id := range ids {
		var session, lastAgent, lastCustomer sql.NullInt64
		_ = db.QueryRow(`SELECT session_started_at, last_agent_message_at, last_customer_message_at FROM conversations WHERE id = $1`, id).
			Scan(&session, &lastAgent, &lastCustomer)
		fmt.Fprintf(&b, "conversation %s: session %s, last agent %s, last customer %s\n", id, at(session), at(lastAgent), at(lastCustomer))
		if fr, err := db.Query(`SELECT rule_id, session_started_at, outcome, reason, created_at FROM followups WHERE conversation_id = $1 ORDER BY created_at`, id); err == nil {
			for fr.Next() {
				var rule, outcome, reason string
				var sess, created sql.NullInt64
				if fr.Scan(&rule, &sess, &outcome, &reason, &created) == nil {
					fmt.Fprintf(&b, "  follow-up %s rule %s session %s %s %s\n", at(created), rule, at(sess), outcome, reason)
				}
			}
			fr.Close()
		}
		if mr, err := db.Query(`SELECT role, content, created_at FROM messages WHERE conversation_id = $1 ORDER BY created_at, id`, id); err == nil {
			for mr.Next() {
				var role, content string
				var created sql.NullInt64
				if mr.Scan(&role, &content, &created) == nil {
					fmt.Fprintf(&b, "  %s %-8s %.50q\n", at(created), role, content)
				}
			}
			mr.Close()
		}
		if er, err := db.Query(`SELECT name, created_at FROM conversation_events WHERE conversation_id = $1 ORDER BY created_at, id`, id); err == nil {
			for er.Next() {
				var name string
				var created sql.NullInt64
				if er.Scan(&name, &created) == nil {
					fmt.Fprintf(&b, "  %s event %s\n", at(created), name)
				}
			}
			er.Close()
		}
	}
	return b.String()
}
