package parley

import "time"

// SurveyType is the optional survey a follow-up asks.
type SurveyType string

const (
	SurveyNone  SurveyType = ""
	SurveyCSAT  SurveyType = "csat"   // satisfaction 1–5
	SurveyNPS   SurveyType = "nps"    // likelihood to recommend 0–10
	SurveyYesNo SurveyType = "yes_no" // yes or no
)

// Valid reports whether s is a known survey type (or none).
func (s SurveyType) Valid() bool {
	switch s {
	case SurveyNone, SurveyCSAT, SurveyNPS, SurveyYesNo:
		return true
	}
	return false
}

// FollowUpRule re-engages a silent customer: Delay after the last agent
// message on one of ChannelIDs (all channels when empty), it sends Message —
// or, with Generate, a message the AI writes from the conversation with
// Message as guidance — at most once per conversation session.
type FollowUpRule struct {
	ID       string        `json:"id"`
	TenantID string        `json:"tenant_id"`
	Title    string        `json:"title"`
	Message  string        `json:"message"`
	Generate bool          `json:"generate"`
	Delay    time.Duration `json:"-"`
	// ReplyWindow is how long after the follow-up a customer message counts
	// as a reply to it, for the response rate.
	ReplyWindow time.Duration `json:"-"`
	Survey      SurveyType    `json:"survey"`
	ChannelIDs  []string      `json:"channel_ids"`
	// Template goes instead of the message when the customer's 24-hour
	// window has closed; without one the follow-up is skipped then.
	Template  *Template `json:"template,omitempty"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// SendAsWritten sends Message as it is even when a model is configured;
	// by default the AI writes each follow-up from it.
	SendAsWritten bool `json:"send_as_written"`
}

// AppliesTo reports whether the rule covers conversations on channelID.
func (r FollowUpRule) AppliesTo(channelID string) bool {
	if len(r.ChannelIDs) == 0 {
		return channelID != ""
	}
	for _, id := range r.ChannelIDs {
		if id == channelID {
			return true
		}
	}
	return false
}

// Outcomes of a follow-up decision.
const (
	FollowUpSent    = "sent"
	FollowUpSkipped = "skipped"
)

// FollowUp is one rule's decision in one conversation session: sent, or
// skipped with a reason; a sent survey later carries the customer's answer.
type FollowUp struct {
	ID               string        `json:"id"`
	TenantID         string        `json:"tenant_id"`
	RuleID           string        `json:"rule_id"`
	ConversationID   string        `json:"conversation_id"`
	SessionStartedAt time.Time     `json:"session_started_at"`
	Outcome          string        `json:"outcome"`
	Reason           string        `json:"reason,omitempty"`
	MessageID        string        `json:"message_id,omitempty"`
	Survey           SurveyType    `json:"survey,omitempty"`
	ReplyWindow      time.Duration `json:"-"`
	RepliedAt        *time.Time    `json:"replied_at,omitempty"`
	Answer           string        `json:"answer,omitempty"`
	Score            *int          `json:"score,omitempty"`
	AnsweredAt       *time.Time    `json:"answered_at,omitempty"`
	CreatedAt        time.Time     `json:"created_at"`
}
