package event

import "slices"

// Payload is what a conversation's log records with an event: a struct that
// the catalog lists, so `parley events` shows its fields exactly as logged.
// EventNames are the names it may be logged under; the store refuses any
// other (see Check), so a payload cannot drift from its catalog entry.
type Payload interface {
	EventNames() []string
}

// Check says whether p may be logged as name.
func Check(name string, p Payload) bool {
	return p != nil && slices.Contains(p.EventNames(), name)
}

// The names each payload of this package is logged under.

func (BudgetReachedPayload) EventNames() []string      { return []string{BudgetReached} }
func (GenerateAIAgentAnswerArgs) EventNames() []string { return []string{GenerateAIAgentAnswer} }
func (ReceivedPayload) EventNames() []string {
	return []string{TextMessageReceived, TextMessageWithUserInfoReceived}
}
func (AIAgentAnswerGeneratedPayload) EventNames() []string { return []string{AIAgentAnswerGenerated} }
func (OpenTicketPayload) EventNames() []string             { return []string{OpenTicket} }
func (TicketPayload) EventNames() []string                 { return []string{TicketOpened, TicketClosed} }
func (AgentAssignedPayload) EventNames() []string          { return []string{AgentAssigned} }
func (GenerateAgentAnswerPayload) EventNames() []string    { return []string{GenerateAgentAnswer} }
func (GetConversationPayload) EventNames() []string        { return []string{GetConversation} }
func (ConversationDocumentPayload) EventNames() []string   { return []string{ConversationDocument} }
func (AgentAnswerGeneratedPayload) EventNames() []string   { return []string{AgentAnswerGenerated} }
func (SendTextMessagePayload) EventNames() []string        { return []string{SendTextMessage} }
func (MessageStatusPayload) EventNames() []string {
	return []string{MessageStatusChanged, MessageSendFailed, MessageDeleted}
}
func (ConversationStatusPayload) EventNames() []string {
	return []string{ConversationClosed, ConversationReopened}
}
