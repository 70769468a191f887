package event

import (
	"fmt"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// messageID names a catalog entry in documents: its name without spaces.
func messageID(name string) string {
	return strings.ReplaceAll(name, " ", "")
}

// schemaOf is the JSON Schema of an entry's payload, from its Go type.
func schemaOf(e Entry) (*jsonschema.Schema, error) {
	s, err := jsonschema.ForType(e.Payload, nil)
	if err != nil {
		return nil, fmt.Errorf("schema of %q: %w", e.Name, err)
	}
	s.Title = e.Name
	s.Description = e.Summary
	return s, nil
}

// JSONSchemas returns the catalog as one JSON Schema document: each entry's
// payload under $defs, by its message id, with its stable name as title.
func JSONSchemas(entries []Entry) (map[string]any, error) {
	defs := map[string]any{}
	for _, e := range entries {
		s, err := schemaOf(e)
		if err != nil {
			return nil, err
		}
		s.Extra = map[string]any{"x-parley-type": e.Type}
		if e.JobKind != "" {
			s.Extra["x-parley-job-kind"] = e.JobKind
		}
		defs[messageID(e.Name)] = s
	}
	return map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       "Parley event catalog",
		"description": "Payloads of the conversation flow's commands and events, as logged in GET /api/conversations/{id}/events and carried by job args.",
		"$defs":       defs,
	}, nil
}

// AsyncAPI returns the catalog as an AsyncAPI 3.0 document: one channel,
// the conversation's event log, carrying every command and event as a
// message whose payload schema comes from the Go type.
func AsyncAPI(version string, entries []Entry) (map[string]any, error) {
	messages := map[string]any{}
	refs := map[string]any{}
	var opRefs, busRefs []any
	busMessages := map[string]any{}
	for _, e := range entries {
		s, err := schemaOf(e)
		if err != nil {
			return nil, err
		}
		id := messageID(e.Name)
		msg := map[string]any{
			"name":          e.Name,
			"title":         e.Name,
			"summary":       e.Summary,
			"contentType":   "application/json",
			"payload":       s,
			"x-parley-type": e.Type,
		}
		if e.JobKind != "" {
			msg["x-parley-job-kind"] = e.JobKind
		}
		messages[id] = msg
		refs[id] = map[string]any{"$ref": "#/components/messages/" + id}
		opRefs = append(opRefs, map[string]any{"$ref": "#/channels/conversationEvents/messages/" + id})
		busMessages[id] = map[string]any{"$ref": "#/components/messages/" + id}
		busRefs = append(busRefs, map[string]any{"$ref": "#/channels/eventBus/messages/" + id})
	}
	followUpID := "FollowUpRequest"
	for _, e := range entries {
		if e.JobKind == "follow_up_request" {
			followUpID = messageID(e.Name)
		}
	}
	followUp := map[string]any{"$ref": "#/components/messages/" + followUpID}
	return map[string]any{
		"asyncapi": "3.0.0",
		"info": map[string]any{
			"title":       "Parley event catalog",
			"version":     version,
			"description": "The conversation flow's commands and events. Each is appended to its conversation's event log (GET /api/conversations/{id}/events); commands that are River jobs name their job kind in x-parley-job-kind.",
		},
		"defaultContentType": "application/json",
		"channels": map[string]any{
			"conversationEvents": map[string]any{
				"address":     "conversations/{conversation_id}/events",
				"description": "A conversation's event log, oldest first.",
				"parameters":  map[string]any{"conversation_id": map[string]any{"description": "The conversation's id (UUID)."}},
				"messages":    refs,
			},
			"eventBus": map[string]any{
				"address": "parley.{tenant_id}.{event}",
				"description": "NATS JetStream subjects of the stream PARLEY_EVENTS_URL names: every event of the log, in order, at least once, " +
					"as a CloudEvents 1.0 JSON message (specversion, id = the event id, source, type parley.{event}, subject = the conversation id, time, " +
					"data = the payload below, and the extensions tenantid, conversationid, eventname, sequence). Tenants' webhook subscriptions get the same document.",
				"parameters": map[string]any{
					"tenant_id": map[string]any{"description": "The tenant's id (UUID)."},
					"event":     map[string]any{"description": "The event's name in lower case, words joined by _ (Ticket Opened: ticket_opened)."},
				},
				"messages": busMessages,
			},
			"followUpRequests": map[string]any{
				"address":     "{queue}",
				"description": "The SQS queue or NATS JetStream subject PARLEY_FOLLOWUP_QUEUE_URL names: other services publish Follow-Up Requests there.",
				"parameters":  map[string]any{"queue": map[string]any{"description": "An SQS queue URL, or nats://host:port/<stream>/<subject>."}},
				"messages":    map[string]any{followUpID: followUp},
			},
		},
		"operations": map[string]any{
			"appendEvent": map[string]any{
				"action":   "send",
				"summary":  "Parley appends a command or event to a conversation's log.",
				"channel":  map[string]any{"$ref": "#/channels/conversationEvents"},
				"messages": opRefs,
			},
			"publishEvent": map[string]any{
				"action":   "send",
				"summary":  "Parley publishes each logged event to the event bus (and to the tenants' webhooks).",
				"channel":  map[string]any{"$ref": "#/channels/eventBus"},
				"messages": busRefs,
			},
			"receiveFollowUpRequest": map[string]any{
				"action":   "receive",
				"summary":  "Parley takes Follow-Up Requests from the queue, once each; malformed ones go to the dead-letter queue.",
				"channel":  map[string]any{"$ref": "#/channels/followUpRequests"},
				"messages": []any{map[string]any{"$ref": "#/channels/followUpRequests/messages/" + followUpID}},
			},
		},
		"components": map[string]any{"messages": messages},
	}, nil
}
