package followup

import (
	"strconv"
	"strings"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/channel"
)

// A survey travels in the queued message as a channel.Interactive, which
// the channel's sender turns into reply buttons or a list (WhatsApp Cloud
// API) or into text with numbered choices (Twilio, where buttons and lists
// need pre-approved Content templates). Choice ids are
// "followup:<follow-up id>:<answer>", so the customer's button_reply /
// list_reply id leads straight back to the follow-up; a typed answer (the
// choice's number or its title) counts for the survey it answers.
const choicePrefix = "followup:"

// csatLabels are the csat choices, by score. They are listed from 1 up, so
// the number of a choice in Twilio's numbered text is its score.
var csatLabels = []string{"", "Very poor", "Poor", "Okay", "Good", "Excellent"}

// surveyMessage turns a follow-up's text into its survey message:
//
//   - yes_no: two reply buttons, Yes and No
//   - csat:   a list of five rows, 1 (Very poor) to 5 (Excellent)
//   - nps:    text; the question asks for a number 0–10: eleven choices
//     exceed WhatsApp's 10 list rows, so the typed number is the answer.
//
// Content stays the body text; Extra keeps followup_id, followup_rule_id
// and survey.
func surveyMessage(msg parley.Message, survey parley.SurveyType, followUpID string) parley.Message {
	id := func(answer string) string { return choicePrefix + followUpID + ":" + answer }
	switch survey {
	case parley.SurveyYesNo:
		return channel.WithInteractive(msg, channel.Interactive{
			Buttons: []channel.Choice{{ID: id("yes"), Title: "Yes"}, {ID: id("no"), Title: "No"}},
		})
	case parley.SurveyCSAT:
		rows := make([]channel.Choice, 0, 5)
		for score := 1; score <= 5; score++ {
			rows = append(rows, channel.Choice{ID: id(strconv.Itoa(score)), Title: csatLabels[score]})
		}
		return channel.WithInteractive(msg, channel.Interactive{
			ListButton: "Rate us", Sections: []channel.Section{{Title: "Your rating", Rows: rows}},
		})
	case parley.SurveyNPS:
		msg.Content += "\n\nHow likely are you to recommend us to a friend? Reply with a number from 0 (not at all) to 10 (extremely)."
	}
	return msg
}

// parseAnswer reads an answer for a survey: a choice's answer part or what
// the customer typed. Scores: csat 1–5, nps 0–10, yes 1 and no 0.
func parseAnswer(survey parley.SurveyType, raw string) (answer string, score int, ok bool) {
	a := strings.ToLower(strings.TrimSpace(raw))
	a = strings.TrimRight(a, ".!")
	switch survey {
	case parley.SurveyYesNo:
		switch a {
		// "1" and "2" are the numbered choices of a survey sent as text.
		case "yes", "y", "sim", "si", "sí", "1":
			return "yes", 1, true
		case "no", "n", "não", "nao", "2":
			return "no", 0, true
		}
	case parley.SurveyCSAT, parley.SurveyNPS:
		if survey == parley.SurveyCSAT {
			for score, label := range csatLabels {
				if score > 0 && a == strings.ToLower(label) {
					return strconv.Itoa(score), score, true
				}
			}
		}
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
