package twilio

// Form fields Twilio posts to webhooks and takes in the Messages API, by
// name, grouped by the part of Twilio's documentation that defines them
// (section marks as in the package comment): §1 inbound, §3 status
// callbacks, §4 sending.
const (
	// §1 inbound message webhook
	FieldMessageSid          = "MessageSid"
	FieldSmsMessageSid       = "SmsMessageSid" // legacy duplicate of MessageSid
	FieldSmsSid              = "SmsSid"        // legacy duplicate of MessageSid
	FieldAccountSid          = "AccountSid"
	FieldMessagingServiceSid = "MessagingServiceSid"
	FieldFrom                = "From"
	FieldTo                  = "To"
	FieldBody                = "Body"
	FieldNumMedia            = "NumMedia"
	FieldMediaURL            = "MediaUrl"         // + index: MediaUrl0…
	FieldMediaContentType    = "MediaContentType" // + index: MediaContentType0…
	FieldProfileName         = "ProfileName"
	FieldWaID                = "WaId"
	FieldMessageType         = "MessageType"
	FieldButtonText          = "ButtonText"
	FieldButtonPayload       = "ButtonPayload"
	FieldLatitude            = "Latitude"
	FieldLongitude           = "Longitude"
	FieldAddress             = "Address"
	FieldLabel               = "Label"
	FieldRepliedSid          = "OriginalRepliedMessageSid"
	FieldRepliedSender       = "OriginalRepliedMessageSender"
	FieldForwarded           = "Forwarded"
	FieldFrequentlyForwarded = "FrequentlyForwarded"
	FieldReferralPrefix      = "Referral" // ReferralCtwaClid, ReferralSourceUrl, …

	// §3 status callbacks
	FieldMessageStatus        = "MessageStatus"
	FieldSmsStatus            = "SmsStatus" // legacy duplicate of MessageStatus; "received" on inbound
	FieldErrorCode            = "ErrorCode"
	FieldErrorMessage         = "ErrorMessage"
	FieldChannelStatusMessage = "ChannelStatusMessage"

	// §4 sending
	FieldContentSid       = "ContentSid"
	FieldContentVariables = "ContentVariables"
	FieldStatusCallback   = "StatusCallback"
)

// AddressPrefix marks a WhatsApp address in Twilio's From and To.
const AddressPrefix = "whatsapp:"

// SignatureHeader carries Twilio's webhook signature (§2).
const SignatureHeader = "X-Twilio-Signature"

// EmptyTwiML is the answer to an inbound webhook when replies go through the
// REST API (§1 "Responding"); serve it as text/xml with status 200.
const EmptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// apiMessage is the part of the Messages API's resource (§4, 201 Created)
// that the sender reads.
type apiMessage struct {
	SID    string `json:"sid"`
	Status string `json:"status"`
}

// apiError is the Messages API's error body (§4, 4xx/5xx).
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}
