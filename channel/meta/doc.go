// Package meta holds what Parley's channels on Meta's platform share: the
// WhatsApp Cloud API (package whatsapp) and Instagram messaging (package
// instagram) are one Meta app, so their webhooks carry the same signature
// (X-Hub-Signature-256 under the app secret) and handshake
// (hub.mode/hub.verify_token/hub.challenge), and their sends go through the
// same Graph API with the same error body. Each channel keeps its own
// wire types, parsing and error-code policy; this package is the plumbing
// around them. Section marks name the parts of specs/whatsapp-cloud-api.md
// and specs/instagram-messaging.md that both follow.
package meta
