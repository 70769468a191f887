// Package event names the commands and events of a conversation (the
// event catalog users know), their payloads, and the AsyncAPI catalog.
package event

// The event catalog: stable names of the flow's commands and events, as they
// appear in job kinds' documentation and in every conversation's event log.
const (
	TextMessageReceived             = "WhatsApp Business Text Message Received"
	TextMessageWithUserInfoReceived = "WhatsApp Business Text Message With User Info Received"
	GenerateAIAgentAnswer           = "Generate AI Agent Answer"
	AIAgentAnswerGenerated          = "AI Agent Answer Generated"
	OpenTicket                      = "Open Ticket"
	TicketOpened                    = "Ticket Opened"
	AgentAssigned                   = "Agent Assigned"
	GetConversation                 = "Get Conversation"
	ConversationDocument            = "Conversation Document"
	GenerateAgentAnswer             = "Generate Agent Answer"
	AgentAnswerGenerated            = "Agent Answer Generated"
	SendTextMessage                 = "Send WhatsApp Business Text Message"
	MessageStatusChanged            = "Message Status Changed"
	MessageSendFailed               = "Message Send Failed"
	MessageDeleted                  = "Message Deleted"
)
