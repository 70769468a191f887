// Package whatsapp is Meta's WhatsApp Cloud API as a channel.Provider: the
// webhook handlers (handshake, signature, parsing into channel.Batch,
// which channel owns a number), the Graph API client with its rate limits
// and error classes, and the template list.
//
// Section marks (§) name the parts of the Cloud API this package follows:
// §1 webhook verification, §2 notifications (§2.1 inbound messages, §2.2
// statuses, §2.3 delivery and retries), §3 sending, §4 errors, §5 the
// 24-hour window and templates, §6 throughput. A signed notification it
// cannot use is answered 200 and logged: any other answer makes Meta
// redeliver it for days (§2.3). Client.Send makes one attempt; the send
// stage retries what Retryable says may pass. What Instagram shares (the
// webhook receiver, the Graph call and its error) lives in package meta.
package whatsapp
