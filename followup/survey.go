package followup

import (
	"strconv"
	"strings"

	"github.com/parleyhq/parley"
)

// A survey travels in the queued message so the channel's send worker can
// build the interactive message (the shape is documented on surveyMessage).
// Choice ids are "followup:<follow-up id>:<answer>", so the customer's
// button_reply / list_reply id leads straight back to the follow-up.
const choicePrefix = "followup:"

// Choice is one button or list row of a survey.
type Choice struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// surveyMessage turns a follow-up's text into its survey message:
//
//   - yes_no: Type interactive, Extra["buttons"] = [{id, title}] (2 reply buttons)
//   - csat:   Type interactive, Extra["list"] = {"button": label,
//     "sections": [{"title", "rows": [{id, title, description}]}]} (5 rows)
//   - nps:    Type text, the question asks for a number 0–10: eleven
//     choices exceed WhatsApp's 10 list rows, so the typed number is the answer.
//
// Content is always the body text. Extra also carries followup_id,
// followup_rule_id and survey.
func surveyMessage(msg *parley.Message, survey parley.SurveyType, followUpID string) {
	id := func(answer string) string { return choicePrefix + followUpID + ":" + answer }
	switch survey {
	case parley.SurveyYesNo:
		msg.Type = parley.MessageInteractive
		msg.Extra["buttons"] = []Choice{{ID: id("yes"), Title: "Yes"}, {ID: id("no"), Title: "No"}}
	case parley.SurveyCSAT:
		msg.Type = parley.MessageInteractive
		labels := []string{"", "Very poor", "Poor", "Okay", "Good", "Excellent"}
		rows := make([]Choice, 0, 5)
		for score := 5; score >= 1; score-- {
			rows = append(rows, Choice{ID: id(strconv.Itoa(score)), Title: strconv.Itoa(score) + " - " + labels[score]})
		}
		msg.Extra["list"] = map[string]any{"button": "Rate us", "sections": []map[string]any{{"title": "Your rating", "rows": rows}}}
	case parley.SurveyNPS:
		msg.Content += "\n\nHow likely are you to recommend us to a friend? Reply with a number from 0 (not at all) to 10 (extremely)."
	}
}

// parseAnswer reads an answer for a survey: a choice's answer part or what
// the customer typed. Scores: csat 1–5, nps 0–10, yes 1 and no 0.
func parseAnswer(survey parley.SurveyType, raw string) (answer string, score int, ok bool) {
	a := strings.ToLower(strings.TrimSpace(raw))
	a = strings.TrimRight(a, ".!")
	switch survey {
	case parley.SurveyYesNo:
		switch a {
		case "yes", "y", "sim", "si", "sí":
			return "yes", 1, true
		case "no", "n", "não", "nao":
			return "no", 0, true
		}
	case parley.SurveyCSAT, parley.SurveyNPS:
		if i := strings.IndexAny(a, " -"); i > 0 {
			a = a[:i] // a row title such as "4 - Good"
		}
		n, err := strconv.Atoi(a)
		lo, hi := 1, 5
		if survey == parley.SurveyNPS {
			lo, hi = 0, 10
		}
		if err == nil && n >= lo && n <= hi {
			return strconv.Itoa(n), n, true
		}
	}
	return "", 0, false
}

// parseChoiceID splits "followup:<id>:<answer>".
func parseChoiceID(s string) (followUpID, answer string, ok bool) {
	rest, found := strings.CutPrefix(s, choicePrefix)
	if !found {
		return "", "", false
	}
	followUpID, answer, ok = strings.Cut(rest, ":")
	return followUpID, answer, ok && followUpID != "" && answer != ""
}
