package leads

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/llm"
)

// Schema names of the two phases; a fake LLM server tells the phases apart by them.
const (
	SchemaSales      = "lead_follow_up_sales"
	SchemaCopywriter = "lead_follow_up_copywriter"
)

// Command kinds of the two phases.
const (
	KindSales      = "lead_follow_up_sales"
	KindCopywriter = "lead_follow_up_copywriter"
)

// rules every phase's system prompt ends with: what makes content ready to send.
const contentRules = `Rules for every message:
- Write the final text, ready to send as is. Use the lead's real name, company and details from the brief.
- Never leave placeholders or variables: no {{...}}, {name}, [Name], [Your Name], <company>, %NAME% or "insert ... here". If a detail is unknown, write around it.
- Plain text only: no HTML, no Markdown links.
- email: "title" is the subject line (one line, under 120 characters); "message" is the plain-text body with greeting and sign-off.
- whatsapp: short and conversational, at most 700 characters (WhatsApp allows 4096); "title" is a short internal label.
- notification: an in-app notification; a title under 60 characters and one or two sentences.
- web: a website banner; a headline under 60 characters and one sentence.`

const salesRole = `You are a Sales/CRM Specialist. Analyse the lead and write a personalized follow-up for each channel listed in the brief.
Focus on qualifying the lead and moving it to the next stage. For each channel give the sales strategy you apply ("strategy"), then the content.`

const copywriterRole = `You are a Content Creator & Copywriter. You receive a lead brief and a follow-up drafted by the sales specialist.
Refine the copy of every channel: clearer, warmer, more persuasive, better suited to the channel. Keep the sales strategy, the facts and the call to action.`

// contentSchema is the strict JSON schema of a phase's answer: an object
// "messages" with one object per channel, in the order given.
func contentSchema(name string, channels []string, withStrategy bool) *llm.Schema {
	fields := []string{"title", "message"}
	if withStrategy {
		fields = []string{"strategy", "title", "message"}
	}
	channelProps := map[string]any{}
	for _, f := range fields {
		channelProps[f] = map[string]any{"type": "string"}
	}
	props := map[string]any{}
	required := make([]any, 0, len(channels))
	for _, ch := range channels {
		reqFields := make([]any, len(fields))
		for i, f := range fields {
			reqFields[i] = f
		}
		props[ch] = map[string]any{"type": "object", "properties": channelProps, "required": reqFields, "additionalProperties": false}
		required = append(required, ch)
	}
	return &llm.Schema{
		Name:        name,
		Description: "Follow-up content per channel",
		JSON: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"messages": map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false},
			},
			"required":             []any{"messages"},
			"additionalProperties": false,
		},
	}
}

// phaseOutput is what a phase answers.
type phaseOutput struct {
	Messages map[string]parley.LeadContent `json:"messages"`
}

func systemPrompt(role string, persona *parley.LeadPersona, language string) string {
	var b strings.Builder
	b.WriteString(role)
	if persona != nil {
		fmt.Fprintf(&b, "\n\nYour name is %s.", persona.Name)
		if s := strings.TrimSpace(persona.Instructions); s != "" {
			b.WriteString(" Your own brief:\n" + s)
		}
	}
	if language != "" {
		fmt.Fprintf(&b, "\n\nWrite in the language with code %q unless the lead clearly writes in another.", language)
	}
	b.WriteString("\n\n" + contentRules)
	return b.String()
}

// generate runs one phase on the model: a first answer and, when it is
// unfit to send, one regeneration that is shown what was wrong. It returns
// the last answer, its problems (none when usable) and the requests made.
func generate(ctx context.Context, c *llm.Client, req llm.Request) (map[string]parley.LeadContent, []string, int, error) {
	channels := schemaChannels(req.Schema)
	var out map[string]parley.LeadContent
	var probs []string
	attempts := 0
	for try := 0; try < 2; try++ {
		res, resp, err := llm.CompleteJSON[phaseOutput](ctx, c, req)
		if resp != nil {
			attempts += resp.Attempts
		} else {
			attempts++
		}
		if err != nil {
			return nil, nil, attempts, err
		}
		out = res.Messages
		probs = problems(out, channels)
		if !fatal(probs) {
			return out, probs, attempts, nil
		}
		raw, _ := json.Marshal(res)
		req.Messages = append(req.Messages,
			llm.Message{Role: llm.RoleAssistant, Content: string(raw)},
			llm.Message{Role: llm.RoleUser, Content: "This cannot be sent as it is:\n- " + strings.Join(probs, "\n- ") +
				"\nWrite every channel again, complete and ready to send, with the real details from the brief and no placeholders."})
	}
	return out, probs, attempts, nil
}

// schemaChannels reads the channel names back from a contentSchema.
func schemaChannels(s *llm.Schema) []string {
	msgs, _ := s.JSON["properties"].(map[string]any)["messages"].(map[string]any)
	req, _ := msgs["required"].([]any)
	out := make([]string, 0, len(req))
	for _, r := range req {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
