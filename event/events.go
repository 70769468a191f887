package event

import (
	"reflect"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley"
)

// More names of the event catalog: the ends of a ticket and of a
// conversation, logged by the human side and the conversations API.
const (
	TicketClosed         = "Ticket Closed"
	ConversationClosed   = "Conversation Closed"
	ConversationReopened = "Conversation Reopened"
	AssignWaitingTickets = "Assign Waiting Tickets"
	// BudgetReached: the tenant's monthly budget (set by the operator) of
	// LLM tokens or template sends is spent, so this conversation got the
	// offline answer or a template message was not sent.
	BudgetReached = "Budget Reached"
)

// BudgetReachedPayload is logged as Budget Reached.
type BudgetReachedPayload struct {
	Budget    string `json:"budget" jsonschema:"llm_tokens or template_sends"`
	Month     string `json:"month" jsonschema:"the calendar month (UTC) of the budget, e.g. 2026-12"`
	Used      int64  `json:"used"`
	Limit     int64  `json:"limit"`
	MessageID string `json:"message_id,omitempty" jsonschema:"the contact's message answered offline, or the template message not sent"`
	Outcome   string `json:"outcome" jsonschema:"what happened instead: answered_offline or message_failed"`
}

// GenerateAIAgentAnswerArgs is the Generate AI Agent Answer job: answer the
// contact's message MessageID in a conversation with no open ticket. The
// conversation package works it.
type GenerateAIAgentAnswerArgs struct {
	TenantID       string `json:"tenant_id"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id" jsonschema:"the contact's message to answer"`
}

// Kind is the job's stable name.
func (GenerateAIAgentAnswerArgs) Kind() string { return "generate_ai_agent_answer" }

// InsertOpts: one pending job per message, however often it is routed.
func (GenerateAIAgentAnswerArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		rivertype.JobStateRetryable, rivertype.JobStateCompleted}}}
}

// AssignWaitingTicketsArgs is the job that gives a tenant's waiting tickets
// to available agents (round robin). An empty TenantID scans every tenant.
type AssignWaitingTicketsArgs struct {
	TenantID string `json:"tenant_id"`
}

// Kind is the job's stable name.
func (AssignWaitingTicketsArgs) Kind() string { return "assign_waiting_tickets" }

// InsertOpts keeps one pending scan per tenant.
func (AssignWaitingTicketsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable}}}
}

// ReceivedPayload is logged as WhatsApp Business Text Message Received and,
// for a known customer, With User Info Received (then Customer is set).
type ReceivedPayload struct {
	MessageID        string             `json:"message_id"`
	ChannelID        string             `json:"channel_id"`
	ChannelMessageID string             `json:"channel_message_id"`
	From             string             `json:"from" jsonschema:"E.164"`
	ProfileName      string             `json:"profile_name"`
	Type             parley.MessageType `json:"type"`
	Content          string             `json:"content"`
	Customer         *CustomerInfo      `json:"customer,omitempty"`
}

// CustomerInfo is the identified customer in a received event.
type CustomerInfo struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Language string `json:"language"`
	Phone    string `json:"phone"`
}

// AIAgentAnswerGeneratedPayload is logged when the AI agent (or the offline
// mode, or the fallback after an LLM fault) has decided its answer.
type AIAgentAnswerGeneratedPayload struct {
	MessageID  string   `json:"message_id" jsonschema:"the contact's message answered"`
	Answer     string   `json:"answer"`
	OpenTicket bool     `json:"open_ticket"`
	Reason     string   `json:"reason"`
	Mode       string   `json:"mode" jsonschema:"llm, offline or fallback (the LLM failed)"`
	Documents  []string `json:"documents" jsonschema:"ids of the knowledge documents given to the agent"`
	Answers    []string `json:"answers,omitempty" jsonschema:"ids of earlier unanswered messages this answer also covers"`
	Error      string   `json:"error,omitempty" jsonschema:"the LLM fault, in fallback mode"`
}

// OpenTicketPayload is the Open Ticket command.
type OpenTicketPayload struct {
	MessageID string `json:"message_id,omitempty"`
	Reason    string `json:"reason"`
}

// TicketPayload is Ticket Opened and Ticket Closed.
type TicketPayload struct {
	TicketID string `json:"ticket_id"`
	Reason   string `json:"reason,omitempty"`
	AgentID  string `json:"agent_id,omitempty"`
}

// AgentAssignedPayload is Agent Assigned.
type AgentAssignedPayload struct {
	TicketID  string `json:"ticket_id"`
	AgentID   string `json:"agent_id"`
	AgentName string `json:"agent_name"`
	By        string `json:"by" jsonschema:"round_robin or api"`
}

// GenerateAgentAnswerPayload is Generate Agent Answer: a contact wrote while
// humans hold the conversation; the ticket's agent is to answer.
type GenerateAgentAnswerPayload struct {
	TicketID  string `json:"ticket_id"`
	AgentID   string `json:"agent_id,omitempty" jsonschema:"empty while the ticket waits in the queue"`
	MessageID string `json:"message_id"`
}

// GetConversationPayload is Get Conversation: the human side asked for it.
type GetConversationPayload struct {
	TicketID string `json:"ticket_id"`
	AgentID  string `json:"agent_id,omitempty"`
}

// ConversationDocumentPayload is Conversation Document: what was handed to
// the human side (the document itself is the API's answer).
type ConversationDocumentPayload struct {
	TicketID   string `json:"ticket_id"`
	CustomerID string `json:"customer_id,omitempty"`
	Messages   int    `json:"messages" jsonschema:"how many messages the document holds"`
}

// AgentAnswerGeneratedPayload is a human agent's answer.
type AgentAnswerGeneratedPayload struct {
	TicketID string `json:"ticket_id"`
	AgentID  string `json:"agent_id"`
	Text     string `json:"text"`
}

// SendTextMessagePayload is Send WhatsApp Business Text Message, as the Outbox logs it.
type SendTextMessagePayload struct {
	MessageID string             `json:"message_id"`
	Role      parley.Role        `json:"role"`
	Type      parley.MessageType `json:"type"`
	ChannelID string             `json:"channel_id"`
	Content   string             `json:"content"`
	Template  *parley.Template   `json:"template"`
}

// MessageStatusPayload is Message Status Changed and Message Send Failed.
type MessageStatusPayload struct {
	MessageID        string                `json:"message_id"`
	ChannelID        string                `json:"channel_id"`
	ChannelMessageID string                `json:"channel_message_id,omitempty"`
	Status           parley.DeliveryStatus `json:"status,omitempty" jsonschema:"the provider's status (a failed send logs none)"`
	ErrorCode        string                `json:"error_code,omitempty"`
	ErrorReason      string                `json:"error_reason,omitempty"`
	Source           string                `json:"source,omitempty" jsonschema:"of a failure: send (our call to the provider) or provider_status (the provider's callback)"`
}

// ConversationStatusPayload is Conversation Closed and Conversation Reopened.
type ConversationStatusPayload struct {
	Status parley.ConversationStatus `json:"status"`
}

// Entry is one name of the event catalog.
type Entry struct {
	Name    string       // the stable name users know
	Type    string       // "command" or "event"
	JobKind string       // the River job kind, for commands that are jobs
	Summary string       // what it means
	Payload reflect.Type // the Go type of the payload (job args for jobs)
}

// Catalog lists every command and event of the flow with its payload type;
// `parley events` prints it as AsyncAPI or JSON Schema.
func Catalog() []Entry {
	t := reflect.TypeFor[ReceivedPayload]()
	return []Entry{
		{TextMessageReceived, "event", "", "A contact's WhatsApp message arrived (after signature check and de-duplication).", t},
		{TextMessageWithUserInfoReceived, "event", "", "The message's phone number belongs to a known customer; customer is set.", t},
		{GenerateAIAgentAnswer, "command", GenerateAIAgentAnswerArgs{}.Kind(), "Ask the AI agent to answer a contact's message (no open ticket).", reflect.TypeFor[GenerateAIAgentAnswerArgs]()},
		{AIAgentAnswerGenerated, "event", "", "The AI agent's answer; with open_ticket the conversation goes to humans.", reflect.TypeFor[AIAgentAnswerGeneratedPayload]()},
		{OpenTicket, "command", "", "Hand the conversation to human agents.", reflect.TypeFor[OpenTicketPayload]()},
		{TicketOpened, "event", "", "A ticket was opened; it waits in the queue until an agent is assigned.", reflect.TypeFor[TicketPayload]()},
		{AssignWaitingTickets, "command", AssignWaitingTicketsArgs{}.Kind(), "Give waiting tickets to available agents (when an agent becomes available, and every minute). A job, not logged in a conversation; its result is Agent Assigned.", reflect.TypeFor[AssignWaitingTicketsArgs]()},
		{AgentAssigned, "event", "", "An agent was given the ticket (round robin among available agents, or by hand).", reflect.TypeFor[AgentAssignedPayload]()},
		{GetConversation, "command", "", "The human side asked for the conversation.", reflect.TypeFor[GetConversationPayload]()},
		{ConversationDocument, "event", "", "The conversation was handed to the human side.", reflect.TypeFor[ConversationDocumentPayload]()},
		{GenerateAgentAnswer, "command", "", "A contact wrote while a ticket is open: the human agent is to answer.", reflect.TypeFor[GenerateAgentAnswerPayload]()},
		{AgentAnswerGenerated, "event", "", "A human agent answered; it is sent like an AI answer.", reflect.TypeFor[AgentAnswerGeneratedPayload]()},
		{SendTextMessage, "command", "send_whatsapp_business_text_message", // channel.SendMessageArgs's kind (event may not import channel)
			"Deliver a stored outbound message on the conversation's active channel.", reflect.TypeFor[SendTextMessagePayload]()},
		{MessageStatusChanged, "event", "", "The provider reported a delivery status (sent, delivered, read).", reflect.TypeFor[MessageStatusPayload]()},
		{MessageSendFailed, "event", "", "The message could not be delivered.", reflect.TypeFor[MessageStatusPayload]()},
		{MessageDeleted, "event", "", "The contact unsent one of their messages (Instagram): it stays, marked deleted.", reflect.TypeFor[MessageStatusPayload]()},
		{TicketClosed, "event", "", "The ticket was closed; the AI agent answers the conversation again.", reflect.TypeFor[TicketPayload]()},
		{ConversationClosed, "event", "", "The conversation was closed; the contact's next message opens a new one.", reflect.TypeFor[ConversationStatusPayload]()},
		{ConversationReopened, "event", "", "A closed conversation was opened again.", reflect.TypeFor[ConversationStatusPayload]()},
		{BudgetReached, "event", "", "The tenant's monthly LLM token or template budget is spent: the AI agent answered offline, or a template message failed with budget_reached.", reflect.TypeFor[BudgetReachedPayload]()},
	}
}
