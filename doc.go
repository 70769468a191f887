// Package parley holds Parley's domain: the plain types every other package
// speaks and the error codes the API returns, one file per subject (tenant,
// channel, contact, conversation, message, ticket, notification, follow-up,
// appointment, lead, user, document, webhook). It imports nothing outside
// the standard library, so every other package can depend on it.
package parley
