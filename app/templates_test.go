package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/parleyhq/parley/channel/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/llm/llmtest"
	"github.com/parleyhq/parley/store"
	"github.com/parleyhq/parley/store/storetest"
)

const wabaID = "102000000000777"

// The tenant's templates come from its WhatsApp Business Account, page by
// page; a mapping that does not fit the synced template (2 body parameters
// mapped to 1, an unknown or unapproved template) is refused at save with
// a code, and changes nothing.
func TestTemplateSyncAndMappingCheckedAgainstIt(t *testing.T) {
	t.Parallel()
	storetest.EachEngine(t, func(t *testing.T, e store.Engine) {
		w := newWorld(t, string(e), func(llmtest.Request) llmtest.Reply { return answer("ok", false) })
		ts := []whatsapptest.MessageTemplate{
			whatsapptest.BodyTemplate("acme_answer", "en_US", "Hi! You asked {{1}}. Our team says: {{2}}"),
			{Name: "acme_pending", Language: "en_US", Status: "PENDING", Category: "UTILITY",
				Components: []map[string]any{{"type": "BODY", "text": "Hello {{1}}"}}},
		}
		for i := range 130 { // more than one page of 100
			ts = append(ts, whatsapptest.BodyTemplate(fmt.Sprintf("promo_%03d", i), "pt_BR", "Oi {{1}}"))
		}
		w.graph.AddAccount(wabaID, token, ts...)

		// Without the account id there is nothing to sync.
		if r := w.Do("POST", "/api/templates/sync", w.key, nil); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("sync without waba_id = %d %s", r.Status, r.Body)
		}
		var chans struct{ Items []struct{ ID string } }
		w.Do("GET", "/api/channels", w.key, nil).JSON(t, &chans)
		// An account id that cannot be one is refused, and nothing changes.
		r := w.Do("PATCH", "/api/channels/"+chans.Items[0].ID, w.key, map[string]any{"name": "Renamed", "settings": map[string]string{"waba_id": "acme-account"}})
		if r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "validation_failed" || !strings.Contains(string(r.Body), `"settings.waba_id"`) {
			t.Fatalf("a non-numeric waba_id = %d %s", r.Status, r.Body)
		}
		// (settings is absent until the ownership check records its result)
		ch := w.Do("GET", "/api/channels/"+chans.Items[0].ID, w.key, nil).Map(t)
		if settings, _ := ch["settings"].(map[string]any); ch["name"] == "Renamed" || settings["waba_id"] != nil {
			t.Fatalf("a refused PATCH changed the channel: %v", ch)
		}
		if r := w.Do("PATCH", "/api/channels/"+chans.Items[0].ID, w.key, map[string]any{"settings": map[string]string{"waba_id": wabaID}}); r.Status != http.StatusOK {
			t.Fatalf("patch channel = %d %s", r.Status, r.Body)
		}
		r = w.Do("POST", "/api/templates/sync", w.key, nil)
		var synced []struct {
			Name       string `json:"name"`
			Status     string `json:"status"`
			BodyParams int    `json:"body_parameters"`
		}
		r.JSON(t, &synced)
		if r.Status != http.StatusOK || len(synced) != 132 || w.graph.TemplateListings() != 2 {
			t.Fatalf("sync = %d, %d templates in %d listings", r.Status, len(synced), w.graph.TemplateListings())
		}
		if synced[0].Name != "acme_answer" || synced[0].BodyParams != 2 || synced[0].Status != "APPROVED" {
			t.Fatalf("first synced %+v", synced[0])
		}

		put := func(name, lang string, params ...string) (int, string) {
			r := w.Do("PUT", "/api/template-mappings/question_answer/whatsapp", w.key,
				map[string]any{"template_name": name, "language": lang, "parameters": params})
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			r.JSON(t, &body)
			return r.Status, body.Error.Code
		}
		for _, c := range []struct {
			name, lang string
			params     []string
			code       string
		}{
			{"acme_answer", "en_US", []string{"answer"}, "parameter_count_mismatch"},
			{"acme_pending", "en_US", []string{"answer"}, "template_not_approved"},
			{"no_such_template", "en_US", []string{"answer"}, "template_not_synced"},
			{"acme_answer", "en_US", []string{"question", "price"}, "unknown_parameter_value"},
		} {
			if status, code := put(c.name, c.lang, c.params...); status != http.StatusUnprocessableEntity || code != c.code {
				t.Errorf("%s %v = %d %s, want 422 %s", c.name, c.params, status, code, c.code)
			}
		}
		var got struct {
			Mappings []struct {
				Purpose     string `json:"purpose"`
				ChannelType string `json:"channel_type"`
				Name        string `json:"template_name"`
			}
		}
		w.Do("GET", "/api/template-mappings", w.key, nil).JSON(t, &got)
		for _, m := range got.Mappings {
			if m.Purpose == "question_answer" && m.ChannelType == "whatsapp" && m.Name != "merchant_user_question_answer" {
				t.Fatalf("a refused mapping changed the stored one: %+v", m)
			}
		}
		if status, code := put("acme_answer", "en_US", "question", "answer"); status != http.StatusOK {
			t.Fatalf("a fitting mapping = %d %s", status, code)
		}
	})
}
