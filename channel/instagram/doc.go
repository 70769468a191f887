// Package instagram speaks Instagram Direct messaging (Meta's Instagram API
// with Instagram Login, or with Facebook Login through the Messenger
// Platform) and is Parley's channel.Provider for channels of type
// instagram.
//
// Section marks (§) name the parts of the fact sheet this package follows
// (specs/instagram-messaging.md): §1 the two ways in and the shared webhook
// handshake and signature, §2 the webhook body (messages, attachments,
// quick replies, story replies and mentions, echoes, deletions, reads,
// reactions, postbacks), §3 sending, §4 the messaging window and the
// HUMAN_AGENT tag, §5 errors, §6 identity (the Instagram-scoped id).
//
// Webhooks are received exactly as WhatsApp's (package meta's Receiver,
// with the same app secret and verify token: one Meta app serves both) and
// routed by the business account id (entry[].id, recipient.id). Sends go
// through meta.Graph and fail with a *meta.Error (SendError). Client.Send
// makes one attempt; the send stage retries what Classify calls retryable.
package instagram
