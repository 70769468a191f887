package followup

import (
	"reflect"
	"time"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/event"
)

// Payloads of the follow-up events, for the event catalog. The events are
// logged with these keys.

// DecisionPayload is Follow-Up Sent and Follow-Up Skipped.
type DecisionPayload struct {
	RuleID     string            `json:"rule_id"`
	Title      string            `json:"title"`
	Decision   string            `json:"decision" jsonschema:"sent or skipped"`
	Reason     string            `json:"reason" jsonschema:"why: e.g. conversation_not_open, appointments_module_off, followups_feature_off, existing_appointment, channel_inactive, outside_24h_window_without_template"`
	FollowUpID string            `json:"followup_id,omitempty"`
	MessageID  string            `json:"message_id,omitempty"`
	Kind       string            `json:"kind,omitempty" jsonschema:"text, generated or template"`
	Survey     parley.SurveyType `json:"survey,omitempty"`
}

// DelayedPayload is Follow-Up Delayed: due outside the availability hours.
type DelayedPayload struct {
	RuleIDs  []string  `json:"rule_ids"`
	Decision string    `json:"decision"`
	Reason   string    `json:"reason"`
	Until    time.Time `json:"until"`
	TimeZone string    `json:"time_zone"`
}

// SurveyAnsweredPayload is Follow-Up Survey Answered.
type SurveyAnsweredPayload struct {
	FollowUpID string            `json:"followup_id"`
	RuleID     string            `json:"rule_id"`
	Survey     parley.SurveyType `json:"survey"`
	Answer     string            `json:"answer"`
	Score      int               `json:"score"`
	MessageID  string            `json:"message_id"`
}

// Catalog lists the follow-up commands and events for `parley events`.
func Catalog() []event.Entry {
	decision := reflect.TypeFor[DecisionPayload]()
	return []event.Entry{
		{Name: EventRequest, Type: "command", JobKind: RequestArgs{}.Kind(), Summary: "Check a conversation's follow-up rules and send what is due; payload {\"id\": conversation id}, other keys ignored; an unreadable payload fails for good with its reason logged.", Payload: reflect.TypeFor[RequestArgs]()},
		{Name: EventSent, Type: "event", Summary: "A follow-up rule fired: its message was queued.", Payload: decision},
		{Name: EventSkipped, Type: "event", Summary: "A due follow-up was not sent, with the business rule that said no.", Payload: decision},
		{Name: EventDelayed, Type: "event", Summary: "A due follow-up waits for the tenant's next opening hours.", Payload: reflect.TypeFor[DelayedPayload]()},
		{Name: EventSurveyAnswered, Type: "event", Summary: "The customer answered a follow-up's survey.", Payload: reflect.TypeFor[SurveyAnsweredPayload]()},
	}
}
