// Package whatsapp speaks Meta's WhatsApp Cloud API. It is pure protocol: it
// stores nothing, mounts no routes and runs no jobs; the channel integration
// calls it.
//
// Section marks (§) name the parts of Meta's WhatsApp Cloud API documentation
// this package follows: §1 webhook verification (GET), §2 event
// notifications (POST) with §2.1 inbound message fields, §2.2 status
// notifications and §2.3 delivery, retries and duplicates; §3 sending;
// §4 errors; §5 the 24-hour customer service window and templates; §6
// throughput and messaging limits.
//
// Inbound, a webhook handler is expected to:
//
//   - GET: answer VerifyChallenge's challenge as 200 text/plain, else 403 (§1);
//   - POST: ReadBody (ErrBodyTooLarge → 413), then VerifySignature on those
//     exact bytes before anything else (false → 401, store nothing), then
//     Parse, store the Batch (dedupe messages by MessageID, statuses by
//     MessageID+Status, apply statuses by Rank) and answer 200 fast. Parse's
//     errors (ErrMalformed, ErrWrongObject) are typed so the handler can pick
//     its answer; the spec recommends 200 and a log line for signed events it
//     cannot use, since any other answer makes Meta redeliver for days (§2.3).
//
// Outbound, Client.Send makes exactly one attempt. A durable job retries
// when Retryable(err), waiting RetryDelay(err, attempt), and otherwise marks
// the message failed with the *SendError's Code and Message.
package whatsapp
