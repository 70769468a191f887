package whatsapp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/parleyhq/parley"
)

// header is the part of a message every type shares (§2.1). It is read
// leniently, key by key, so that a message whose type-specific object is
// malformed can still be kept as an unknown message with its raw payload.
type header struct {
	ID, From, UserID, GroupID, Type string
	Timestamp                       Timestamp
}

func readHeader(raw json.RawMessage) (header, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return header{}, false
	}
	str := func(key string) string {
		var s string
		_ = json.Unmarshal(m[key], &s) // a non-string reads as empty
		return s
	}
	h := header{
		ID:      str("id"),
		From:    str("from"),
		UserID:  str("user_id"),
		GroupID: str("group_id"),
		Type:    str("type"),
	}
	if h.UserID == "" {
		h.UserID = str("from_user_id")
	}
	_ = json.Unmarshal(m["timestamp"], &h.Timestamp)
	return h, true
}

// parseMessage turns one messages[] item into an Inbound (without the
// routing fields, which the caller fills), or gives the reason it is skipped.
// A message is either fully parsed as its type or kept whole as
// parley.MessageUnknown with its raw JSON: never half-parsed.
func parseMessage(raw json.RawMessage, contacts []Contact) (Inbound, string) {
	h, ok := readHeader(raw)
	switch {
	case !ok:
		return Inbound{}, "message is not a JSON object"
	case h.ID == "":
		return Inbound{}, "message without id"
	case h.GroupID != "":
		return Inbound{MessageID: h.ID}, "group message"
	case h.From == "" && h.UserID == "":
		return Inbound{MessageID: h.ID}, "message without sender"
	}
	ts, ok := h.Timestamp.time()
	if !ok {
		return Inbound{MessageID: h.ID}, fmt.Sprintf("message with bad timestamp %q", h.Timestamp)
	}
	in := Inbound{
		From:        h.From,
		UserID:      h.UserID,
		ContactName: contactName(contacts, h.From, h.UserID),
		MessageID:   h.ID,
		Timestamp:   ts,
	}

	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		keepUnknown(&in, raw, h.Type, err.Error())
		return in, ""
	}
	if m.Context != nil {
		in.ReplyToID = m.Context.ID
		if m.Context.Forwarded {
			in.setExtra("forwarded", true)
		}
	}
	if len(m.Referral) > 0 {
		in.setExtra("referral", m.Referral)
	}
	if !fillContent(&in, &m) {
		keepUnknown(&in, raw, h.Type, "")
	}
	return in, ""
}

// keepUnknown turns in into an unknown message carrying the whole raw JSON,
// dropping anything a partial parse may have set.
func keepUnknown(in *Inbound, raw json.RawMessage, typ, reason string) {
	in.Type = parley.MessageUnknown
	in.Content = ""
	in.Extra = map[string]any{"raw": raw, "original_type": typ}
	if reason != "" {
		in.Extra["parse_error"] = reason
	}
}

func (in *Inbound) setExtra(key string, v any) {
	if in.Extra == nil {
		in.Extra = map[string]any{}
	}
	in.Extra[key] = v
}

// fillContent sets Type, Content and Extra for the types Parley knows. It
// reports false when the type is unknown or its object is missing the
// fields that make it usable.
func fillContent(in *Inbound, m *Message) bool {
	switch m.Type {
	case "text":
		if m.Text == nil {
			return false
		}
		in.Type, in.Content = parley.MessageText, m.Text.Body
	case "interactive":
		return fillInteractive(in, m.Interactive)
	case "button":
		if m.Button == nil {
			return false
		}
		in.Type, in.Content = parley.MessageButton, m.Button.Text
		in.setExtra("button_payload", m.Button.Payload)
	case "image":
		return fillMedia(in, parley.MessageImage, m.Image)
	case "video":
		return fillMedia(in, parley.MessageVideo, m.Video)
	case "sticker":
		return fillMedia(in, parley.MessageSticker, m.Sticker)
	case "document":
		return fillMedia(in, parley.MessageDocument, m.Document)
	case "audio":
		return fillMedia(in, parley.MessageAudio, m.Audio)
	case "voice": // older/alternative name for a voice note (courier)
		media := m.Voice
		if media == nil {
			media = m.Audio
		}
		if !fillMedia(in, parley.MessageAudio, media) {
			return false
		}
		in.setExtra("voice", true)
	case "location":
		return fillLocation(in, m.Location)
	case "contacts":
		return fillContacts(in, m.Contacts)
	case "reaction":
		if m.Reaction == nil || m.Reaction.MessageID == "" {
			return false
		}
		in.Type, in.Content = parley.MessageReaction, m.Reaction.Emoji
		in.setExtra("reaction_message_id", m.Reaction.MessageID)
		in.setExtra("emoji", m.Reaction.Emoji)
		if m.Reaction.Emoji == "" {
			in.setExtra("removed", true)
		}
	default:
		return false
	}
	return true
}

func fillInteractive(in *Inbound, it *InteractiveIn) bool {
	if it == nil {
		return false
	}
	in.Type = parley.MessageInteractive
	switch {
	case it.Type == "button_reply" && it.ButtonReply != nil && it.ButtonReply.ID != "":
		in.Content = it.ButtonReply.Title
		in.setExtra("interactive_id", it.ButtonReply.ID)
	case it.Type == "list_reply" && it.ListReply != nil && it.ListReply.ID != "":
		in.Content = it.ListReply.Title
		in.setExtra("interactive_id", it.ListReply.ID)
		if it.ListReply.Description != "" {
			in.setExtra("description", it.ListReply.Description)
		}
	case it.Type == "nfm_reply" && it.NFMReply != nil:
		in.Content = it.NFMReply.Body
		in.setExtra("flow_name", it.NFMReply.Name)
		in.setExtra("flow_response_json", it.NFMReply.ResponseJSON)
	default:
		return false
	}
	in.setExtra("interactive_type", it.Type)
	return true
}

func fillMedia(in *Inbound, t parley.MessageType, md *Media) bool {
	if md == nil || md.ID == "" {
		return false
	}
	in.Type, in.Content = t, md.Caption
	in.setExtra("media_id", md.ID)
	in.setExtra("mime_type", md.MimeType)
	in.setExtra("sha256", md.SHA256)
	if md.Caption != "" {
		in.setExtra("caption", md.Caption)
	}
	if md.Filename != "" {
		in.setExtra("filename", md.Filename)
		if in.Content == "" {
			in.Content = md.Filename
		}
	}
	if md.Voice {
		in.setExtra("voice", true)
	}
	if md.Animated {
		in.setExtra("animated", true)
	}
	if md.URL != "" {
		in.setExtra("media_url", md.URL)
	}
	return true
}

func fillLocation(in *Inbound, l *Location) bool {
	if l == nil || l.Latitude == nil || l.Longitude == nil {
		return false
	}
	lat, long := *l.Latitude, *l.Longitude
	if lat < -90 || lat > 90 || long < -180 || long > 180 {
		return false
	}
	coords := strconv.FormatFloat(lat, 'f', -1, 64) + ", " + strconv.FormatFloat(long, 'f', -1, 64)
	var place []string
	for _, s := range []string{l.Name, l.Address} {
		if s != "" {
			place = append(place, s)
		}
	}
	in.Type = parley.MessageLocation
	if len(place) > 0 {
		in.Content = "location: " + strings.Join(place, ", ") + " (" + coords + ")"
	} else {
		in.Content = "location: " + coords
	}
	in.setExtra("latitude", lat)
	in.setExtra("longitude", long)
	for k, v := range map[string]string{"name": l.Name, "address": l.Address, "url": l.URL} {
		if v != "" {
			in.setExtra(k, v)
		}
	}
	return true
}

func fillContacts(in *Inbound, cs []SharedContact) bool {
	if len(cs) == 0 {
		return false
	}
	var lines []string
	var list []any
	for _, c := range cs {
		line := c.Name.FormattedName
		var phones []any
		for _, p := range c.Phones {
			if p.Phone != "" {
				line = strings.TrimSpace(line + " " + p.Phone)
			}
			phones = append(phones, map[string]any{"phone": p.Phone, "wa_id": p.WaID, "type": p.Type})
		}
		if line != "" {
			lines = append(lines, line)
		}
		list = append(list, map[string]any{"name": c.Name.FormattedName, "phones": phones})
	}
	in.Type = parley.MessageContacts
	in.Content = "contacts: " + strings.Join(lines, "; ")
	in.setExtra("contacts", list)
	return true
}

// contactName finds the sender's profile name. wa_id may differ from from
// (§2), so a lone contact is taken as the sender's.
func contactName(cs []Contact, from, userID string) string {
	for _, c := range cs {
		if (from != "" && c.WaID == from) || (userID != "" && c.UserID == userID) {
			return c.Profile.Name
		}
	}
	if len(cs) == 1 {
		return cs[0].Profile.Name
	}
	return ""
}
