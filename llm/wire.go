package llm

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

// params translates a Request into the SDK's request parameters.
func (c *Client) params(req Request) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{Model: c.cfg.Model}
	if req.System != "" {
		p.Messages = append(p.Messages, openai.SystemMessage(req.System))
	}
	for _, m := range req.Messages {
		p.Messages = append(p.Messages, messageParam(m))
	}

	temp := c.cfg.Temperature
	if req.Temperature != nil {
		temp = *req.Temperature
	}
	p.Temperature = openai.Float(temp)

	limit := c.cfg.MaxTokens
	if req.MaxTokens > 0 {
		limit = req.MaxTokens
	}
	if limit > 0 {
		if c.cfg.MaxTokensField == MaxTokens {
			p.MaxTokens = openai.Int(int64(limit))
		} else {
			p.MaxCompletionTokens = openai.Int(int64(limit))
		}
	}

	if s := req.Schema; s != nil {
		js := shared.ResponseFormatJSONSchemaJSONSchemaParam{
			Name:   s.Name,
			Schema: s.wire(),
			Strict: openai.Bool(true),
		}
		if s.Description != "" {
			js.Description = openai.String(s.Description)
		}
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{JSONSchema: js},
		}
	}

	for _, t := range req.Tools {
		fd := shared.FunctionDefinitionParam{Name: t.Name, Parameters: shared.FunctionParameters(t.Parameters)}
		if t.Description != "" {
			fd.Description = openai.String(t.Description)
		}
		if fd.Parameters == nil {
			// A function without parameters still needs an object schema.
			fd.Parameters = shared.FunctionParameters{"type": "object", "properties": map[string]any{}}
		}
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(fd))
	}
	switch req.ToolChoice {
	case "":
	case "auto", "none", "required":
		p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String(req.ToolChoice)}
	default:
		p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: req.ToolChoice})
	}
	return p
}

func messageParam(m Message) openai.ChatCompletionMessageParamUnion {
	switch m.Role {
	case RoleSystem:
		return openai.SystemMessage(m.Content)
	case RoleTool:
		return openai.ToolMessage(m.Content, m.ToolCallID)
	case RoleAssistant:
		a := openai.ChatCompletionAssistantMessageParam{}
		if m.Content != "" || len(m.ToolCalls) == 0 {
			a.Content.OfString = openai.String(m.Content)
		}
		for _, tc := range m.ToolCalls {
			args := string(tc.Arguments)
			if args == "" {
				args = "{}"
			}
			a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
				OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
					ID:       tc.ID,
					Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.Name, Arguments: args},
				},
			})
		}
		return openai.ChatCompletionMessageParamUnion{OfAssistant: &a}
	default:
		return openai.UserMessage(m.Content)
	}
}

// response turns the SDK's answer into a Response, or says why it is unusable.
func response(cc *openai.ChatCompletion) (*Response, error) {
	if cc == nil || len(cc.Choices) == 0 {
		return nil, invalidOutput("", false, "response has no choices")
	}
	ch := cc.Choices[0]
	resp := &Response{
		Content:      ch.Message.Content,
		FinishReason: ch.FinishReason,
		Model:        cc.Model,
		Usage: Usage{
			PromptTokens:     cc.Usage.PromptTokens,
			CompletionTokens: cc.Usage.CompletionTokens,
			TotalTokens:      cc.Usage.TotalTokens,
		},
	}
	for _, tc := range ch.Message.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			return nil, invalidOutput("", false, "tool call %q has unsupported type %q", tc.ID, tc.Type)
		}
		args, err := toolArguments(tc.Function.Arguments)
		if err != nil {
			return nil, invalidOutput("", false, "tool call %s(%s): %v", tc.Function.Name, tc.ID, err)
		}
		resp.ToolCalls = append(resp.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: args})
	}
	switch {
	case ch.Message.Refusal != "":
		return nil, invalidOutput("", false, "model refused: %s", ch.Message.Refusal)
	case ch.FinishReason == "length":
		return nil, invalidOutput("", false, "output was cut off at the token limit (finish_reason length)")
	case ch.FinishReason == "content_filter":
		return nil, invalidOutput("", false, "output was withheld by the server's content filter")
	case len(resp.ToolCalls) == 0 && resp.Content == "":
		return nil, invalidOutput("", false, "response is empty")
	}
	return resp, nil
}

// toolArguments checks the arguments are a JSON object. The SDK already turns
// the object form some llama.cpp builds send into text.
func toolArguments(s string) (json.RawMessage, error) {
	b := bytes.TrimSpace([]byte(s))
	if len(b) == 0 {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid(b) || b[0] != '{' {
		return nil, fmt.Errorf("arguments are not a JSON object: %.80q", s)
	}
	return json.RawMessage(b), nil
}
