package followup_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

// A rule with no template of its own sends the tenant's follow-up
// template outside the 24-hour window: the tenant's name, language and
// parameters reach the Graph API.
func TestFollowUpOutsideTheWindowSendsTheTenantsTemplate(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, engine store.Engine) {
		e, graph := newGraphEnv(t, engine)
		if r := e.p.Do("PUT", "/api/template-mappings/follow_up/whatsapp", e.key, map[string]any{
			"template_name": "acme_checkin", "language": "pt_BR", "parameters": []string{"message"}}); r.Status != 200 {
			t.Fatalf("put mapping = %d %s", r.Status, r.Body)
		}
		e.rule(map[string]any{"title": "Next day", "message": "Still interested?", "delay": "23h"})
		conv := e.customerWrites("+5511999990040", "I'll think about it")
		e.clk.Advance(2 * time.Hour)
		e.agentWrites(conv, "Sure, take your time.")
		e.clk.Advance(23 * time.Hour)
		e.request(conv)
		var got *whatsapptest.Template
		deadline := time.Now().Add(20 * time.Second)
		for got == nil && time.Now().Before(deadline) {
			for _, m := range graph.Sent() {
				if strings.TrimPrefix(m.To, "+") == "5511999990040" && m.Template != nil {
					got = m.Template
				}
			}
			time.Sleep(5 * time.Millisecond) // polling a background send
		}
		if got == nil || got.Name != "acme_checkin" || got.Language != "pt_BR" || !slices.Equal(got.BodyParams, []string{"Still interested?"}) {
			t.Fatalf("sent template %+v", got)
		}
	})
}
