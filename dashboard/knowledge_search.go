package dashboard

import (
	"net/http"
	"strings"

	"github.com/parleyhq/parley/conversation"
	"github.com/parleyhq/parley/knowledge"
)

// The knowledge base searched as the AI agent retrieves it: the same
// retriever, the same number of passages, and the offline mode's
// confidence rule (knowledge.Passage.Confident) deciding whether the top
// passage would be sent as the answer. Mounted by knowledgePage.

type searchData struct {
	Form     *Form
	Searched bool
	Terms    []string // the query's content words, what reaches the engine
	Passages []knowledge.Passage
	// Answer is what the offline mode would send: the top passage's
	// excerpt when it is confident, else "" (a holding reply and a ticket).
	Answer     string
	MinPercent int
	Limit      int
}

// maxQuery bounds a search; a customer message is at most 4096 characters.
const maxQuery = 4096

func (d *Dashboard) searchKnowledge(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := newForm()
	f.Values["q"] = strings.TrimSpace(r.URL.Query().Get("q"))
	data := searchData{Form: f, MinPercent: int(100 * knowledge.MinCoverage), Limit: conversation.PassagesInPrompt}
	f.Max(maxQuery, "q")
	status := http.StatusOK
	if !f.OK() {
		status = http.StatusUnprocessableEntity
	} else if q := f.Get("q"); q != "" {
		data.Searched, data.Terms = true, knowledge.Terms(q)
		ps, err := d.knowledge.Retrieve(r.Context(), d.store.Queries, s.TenantID, q, conversation.PassagesInPrompt)
		if err != nil {
			return err
		}
		data.Passages = ps
		if len(ps) > 0 && ps[0].Confident() {
			data.Answer = ps[0].Excerpt
		}
	}
	return d.render(w, r, s, status, "knowledge_search", data)
}
