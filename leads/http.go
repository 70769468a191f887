package leads

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley"
)

// FollowUpPath is where the follow-up call is mounted.
const FollowUpPath = "/api/agents/sales/leadFollowUp"

// maxBody bounds a request body, as for the rest of the API.
const maxBody = 1 << 20

// Envelope is every answer of the follow-up call.
type Envelope struct {
	Success bool        `json:"success"`
	Data    *Result     `json:"data,omitempty"`
	Error   *ErrorShape `json:"error,omitempty"`
}

// ErrorShape is the error object of the follow-up call.
type ErrorShape struct {
	Code    string `json:"code" enum:"INVALID_REQUEST,INVALID_INPUT,INVALID_PHONE_NUMBER,UNAUTHORIZED,SITE_NOT_FOUND,LEAD_NOT_FOUND,VISITOR_NOT_FOUND,AGENT_NOT_FOUND,NO_CHANNELS_CONFIGURED,NO_VALID_CHANNELS_FOR_LEAD,NO_VALID_CHANNELS,SALES_COMMAND_FAILED,NO_CONTENT_GENERATED,REQUEST_TOO_LARGE,RATE_LIMITED,SYSTEM_ERROR"`
	Message string `json:"message"`
}

// Authenticator resolves an API key to its tenant.
type Authenticator interface {
	TenantByAPIKey(ctx context.Context, secret string) (parley.Tenant, error)
}

// FollowUpHandler serves POST /api/agents/sales/leadFollowUp. It is a plain
// handler rather than a huma operation because its error body is the
// call's own ({"success": false, "error": {"code", "message"}}, for bad
// keys too) and its validation order is part of its contract; Document
// describes it in the OpenAPI document all the same.
func (s *Service) FollowUpHandler(auth Authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			writeEnvelope(w, fail(CodeUnauthorized, "missing API key: send Authorization: Bearer <key>"))
			return
		}
		tenant, err := auth.TenantByAPIKey(ctx, strings.TrimSpace(secret))
		if err != nil {
			if parley.ErrorCode(err) == parley.CodeNotFound {
				writeEnvelope(w, fail(CodeUnauthorized, "invalid or revoked API key"))
				return
			}
			s.Log.ErrorContext(ctx, "api key lookup failed", "err", err)
			writeEnvelope(w, asError(err))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeEnvelope(w, fail(CodeRequestTooLarge, "the request body is over 1 MiB"))
				return
			}
			writeEnvelope(w, fail(CodeInvalidRequest, "the request body could not be read"))
			return
		}
		req, perr := ParseRequest(body)
		if perr != nil {
			writeEnvelope(w, perr)
			return
		}
		res, err := s.FollowUp(ctx, tenant, req)
		if err != nil {
			e := asError(err)
			if e.Code == CodeSystemError {
				s.Log.ErrorContext(ctx, "lead sequence failed", "tenant_id", tenant.ID, "lead_id", req.LeadID, "err", err)
			}
			writeEnvelope(w, e)
			return
		}
		writeJSON(w, http.StatusOK, Envelope{Success: true, Data: res})
	})
}

func writeEnvelope(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status(), Envelope{Error: &ErrorShape{Code: e.Code, Message: e.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"success":false,"error":{"code":"SYSTEM_ERROR","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// RequestDoc documents the request body; the handler reads it by hand
// (both spellings of each id, checks in the contract's order).
type RequestDoc struct {
	SiteID               string        `json:"siteId" format:"uuid" doc:"UUID of the site the lead came from (also site_id). Required."`
	LeadID               string        `json:"leadId" format:"uuid" doc:"UUID of the lead (also lead_id). Required."`
	UserID               string        `json:"userId,omitempty" format:"uuid" doc:"Sales representative (also user_id); their sales agent is preferred."`
	AgentID              string        `json:"agent_id,omitempty" format:"uuid" doc:"Sales agent to use (also agentId); default: the site's active sales agent."`
	VisitorID            string        `json:"visitorId,omitempty" format:"uuid" doc:"Visitor for notifications and banners (also visitor_id)."`
	FollowUpType         string        `json:"followUpType,omitempty" doc:"e.g. email, call, meeting"`
	LeadStage            string        `json:"leadStage,omitempty"`
	PreviousInteractions []Interaction `json:"previousInteractions,omitempty"`
	LeadData             *LeadData     `json:"leadData,omitempty" doc:"Merged over the stored lead"`
	ProductInterest      []string      `json:"productInterest,omitempty"`
	FollowUpInterval     string        `json:"followUpInterval,omitempty" doc:"Free text given to the writers; a sequence is spaced by what it reads as (\"3 days\", \"weekly\", \"every 2-3 days\"; 1 hour to 90 days), else 3 days: see data.follow_up_schedule"`
	PhoneNumber          string        `json:"phone_number,omitempty" doc:"WhatsApp number; at least 7 digits; a national number is read in the country of the site's WhatsApp line"`
	Schedule             bool          `json:"schedule,omitempty" doc:"Also deliver the follow-ups as a sequence"`
}

// Document adds the follow-up call to the API's OpenAPI document.
func Document(api huma.API) {
	oapi := api.OpenAPI()
	reg := oapi.Components.Schemas
	errSchema := reg.Schema(reflect.TypeFor[Envelope](), true, "LeadFollowUpEnvelope")
	errResp := func(desc string) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/json": {Schema: errSchema}}}
	}
	oapi.AddOperation(&huma.Operation{
		OperationID: "lead-follow-up",
		Method:      http.MethodPost,
		Path:        FollowUpPath,
		Summary:     "Write a personalized follow-up for a lead (sales specialist, then copywriter)",
		Description: "Answers {\"success\": true, \"data\": {\"messages\", \"lead\", \"command_ids\", \"channels\", \"follow_up_schedule\", \"sequence\"}} or {\"success\": false, \"error\": {\"code\", \"message\"}}. See README, Lead sequences, for codes and statuses.",
		Tags:        []string{"Leads"},
		Security:    []map[string][]string{{"bearer": {}}},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeFor[RequestDoc](), true, "LeadFollowUpRequest")},
		}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The follow-up per channel", Content: map[string]*huma.MediaType{"application/json": {Schema: errSchema}}},
			"400": errResp("INVALID_REQUEST, INVALID_INPUT or INVALID_PHONE_NUMBER"),
			"401": errResp("UNAUTHORIZED"),
			"404": errResp("SITE_NOT_FOUND, LEAD_NOT_FOUND, VISITOR_NOT_FOUND or AGENT_NOT_FOUND"),
			"413": errResp("REQUEST_TOO_LARGE"),
			"429": errResp("RATE_LIMITED (the tenant's API rate limit; Retry-After says when to try again)"),
			"422": errResp("NO_CHANNELS_CONFIGURED, NO_VALID_CHANNELS_FOR_LEAD or NO_VALID_CHANNELS"),
			"500": errResp("SYSTEM_ERROR"),
			"502": errResp("SALES_COMMAND_FAILED or NO_CONTENT_GENERATED"),
		},
	})
}
