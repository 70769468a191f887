// Package whatsapp speaks Meta's WhatsApp Cloud API. It is pure protocol: it
// stores nothing, mounts no routes and runs no jobs; the channel integration
// calls it. Facts and section numbers (§) come from
// /work/shared/specs/whatsapp-cloud-api.md.
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
