package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// Schema asks for JSON output matching a JSON Schema. It is sent as OpenAI
// strict structured output, so it must follow the strict rules: the root is
// an object, every object lists all its properties in "required" and sets
// "additionalProperties": false; an optional value is a nullable type such as
// {"type": ["string", "null"]}.
//
// Properties go on the wire in the order of "required": models write fields
// in schema order, so put reasoning before conclusions there.
type Schema struct {
	Name        string // 1–64 of a-z A-Z 0-9 _ -
	Description string
	JSON        map[string]any
}

// SchemaFor builds the strict schema of T, a struct: one required property
// per field, in field order, named by its json tag; a `jsonschema:"…"` tag
// becomes the field's description; a pointer field is nullable; a slice,
// even behind a pointer, is an array that is never null (an answer with no
// list is no answer). Fields
// tagged omitempty or omitzero, and maps, are refused, because strict mode
// has no optional or free-form properties. Add enums and other keywords to
// the result with Property.
func SchemaFor[T any](name, description string) (*Schema, error) {
	js, err := jsonschema.For[T](nil)
	if err != nil {
		return nil, fmt.Errorf("llm: schema for %s: %w", reflect.TypeFor[T](), err)
	}
	nonNullArrays(js)
	b, err := json.Marshal(js)
	if err != nil {
		return nil, fmt.Errorf("llm: schema for %s: %w", reflect.TypeFor[T](), err)
	}
	s := &Schema{Name: name, Description: description}
	if err := json.Unmarshal(b, &s.JSON); err != nil {
		return nil, fmt.Errorf("llm: schema for %s: %w", reflect.TypeFor[T](), err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%w (type %s)", err, reflect.TypeFor[T]())
	}
	return s, nil
}

// nonNullArrays turns the ["null", "array"] that jsonschema gives a Go slice
// into plain "array".
func nonNullArrays(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if slices.Equal(s.Types, []string{"null", "array"}) {
		s.Types, s.Type = nil, "array"
	}
	for _, p := range s.Properties {
		nonNullArrays(p)
	}
	for _, sub := range s.AnyOf {
		nonNullArrays(sub)
	}
	for _, d := range s.Defs {
		nonNullArrays(d)
	}
	nonNullArrays(s.Items)
}

// Property returns the schema of a nested property, following object
// properties and array items, for adding keywords such as "enum". It returns
// nil when the path does not exist.
func (s *Schema) Property(path ...string) map[string]any {
	node := s.JSON
	for _, name := range path {
		for {
			items, ok := node["items"].(map[string]any)
			if !ok {
				break
			}
			node = items
		}
		props, _ := node["properties"].(map[string]any)
		next, ok := props[name].(map[string]any)
		if !ok {
			return nil
		}
		node = next
	}
	return node
}

// check reports a schema that OpenAI's strict mode would reject, before any
// request is made.
func (s *Schema) check() error {
	if !validName(s.Name) {
		return fmt.Errorf("llm: schema name %q: use 1–64 of a-z A-Z 0-9 _ -", s.Name)
	}
	m, err := s.normalized()
	if err != nil {
		return err
	}
	if m["type"] != "object" {
		return fmt.Errorf("llm: schema %s: the root must be {\"type\": \"object\"}", s.Name)
	}
	return strictProblem(m, "")
}

// normalized is JSON as plain JSON values ([]any, not []string…), which is
// what the checks and the ordered encoding walk.
func (s *Schema) normalized() (map[string]any, error) {
	b, err := json.Marshal(s.JSON)
	if err != nil {
		return nil, fmt.Errorf("llm: schema %s: %w", s.Name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("llm: schema %s: %w", s.Name, err)
	}
	return m, nil
}

func strictProblem(node map[string]any, path string) error {
	if props, ok := node["properties"].(map[string]any); ok {
		required := map[string]bool{}
		if req, ok := node["required"].([]any); ok {
			for _, r := range req {
				if name, ok := r.(string); ok {
					required[name] = true
				}
			}
		}
		for _, name := range sortedKeys(props) {
			if !required[name] {
				return fmt.Errorf("llm: schema property %s%s is optional; strict mode needs every property required (make it nullable instead)", path, name)
			}
			sub, _ := props[name].(map[string]any)
			if err := strictProblem(sub, path+name+"."); err != nil {
				return err
			}
		}
		if node["additionalProperties"] != false {
			return fmt.Errorf("llm: schema object %q must set additionalProperties to false", strings.TrimSuffix(path, "."))
		}
	} else if ap, ok := node["additionalProperties"].(map[string]any); ok && len(ap) > 0 {
		return fmt.Errorf("llm: schema object %q is a free-form map, which strict mode does not allow", strings.TrimSuffix(path, "."))
	}
	if items, ok := node["items"].(map[string]any); ok {
		if err := strictProblem(items, path+"[]."); err != nil {
			return err
		}
	}
	for _, key := range []string{"anyOf", "$defs"} {
		var subs []any
		switch v := node[key].(type) {
		case []any:
			subs = v
		case map[string]any:
			for _, k := range sortedKeys(v) {
				subs = append(subs, v[k])
			}
		}
		for _, sub := range subs {
			if m, ok := sub.(map[string]any); ok {
				if err := strictProblem(m, path); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// wire encodes the schema with each object's properties in "required" order.
// It is only called on a schema that passed check.
func (s *Schema) wire() json.RawMessage {
	m, _ := s.normalized()
	var b bytes.Buffer
	writeOrdered(&b, m)
	return b.Bytes()
}

func writeOrdered(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := sortedKeys(v)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			if props, ok := v[k].(map[string]any); ok && k == "properties" {
				writeProperties(b, props, v["required"])
				continue
			}
			writeOrdered(b, v[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeOrdered(b, e)
		}
		b.WriteByte(']')
	default:
		vb, _ := json.Marshal(v) // a leaf of a normalized map
		b.Write(vb)
	}
}

func writeProperties(b *bytes.Buffer, props map[string]any, required any) {
	var order []string
	if req, ok := required.([]any); ok {
		for _, r := range req {
			if name, ok := r.(string); ok && props[name] != nil && !slices.Contains(order, name) {
				order = append(order, name)
			}
		}
	}
	for _, k := range sortedKeys(props) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	b.WriteByte('{')
	for i, k := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		writeOrdered(b, props[k])
	}
	b.WriteByte('}')
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// resolve prepares the schema for validating answers.
func (s *Schema) resolve() (*jsonschema.Resolved, error) {
	var js jsonschema.Schema
	if err := json.Unmarshal(s.wire(), &js); err != nil {
		return nil, fmt.Errorf("llm: schema %s: %w", s.Name, err)
	}
	rs, err := js.Resolve(nil)
	if err != nil {
		return nil, fmt.Errorf("llm: schema %s: %w", s.Name, err)
	}
	return rs, nil
}

// CompleteJSON asks for strict JSON-schema output and decodes it into T. The
// schema is req.Schema, or SchemaFor[T] when that is nil. An answer that is
// not JSON, breaks the schema or does not fit T is retried (the next attempt
// is shown the mistake) within Config.MaxAttempts; when every attempt fails
// the error is ErrInvalidOutput.
//
// When req offers tools and the model calls one, the result is the zero T and
// a Response with ToolCalls: run them and call again with the results.
func CompleteJSON[T any](ctx context.Context, c *Client, req Request) (T, *Response, error) {
	var zero T
	if req.Schema == nil {
		s, err := SchemaFor[T](schemaName[T](), "")
		if err != nil {
			return zero, nil, &Error{Kind: ErrPermanent, Err: err}
		}
		req.Schema = s
	} else if err := req.Schema.check(); err != nil {
		return zero, nil, &Error{Kind: ErrPermanent, Err: err}
	}
	rs, err := req.Schema.resolve()
	if err != nil {
		return zero, nil, &Error{Kind: ErrPermanent, Err: err}
	}
	var out T
	resp, err := c.complete(ctx, req, func(r *Response) error {
		if len(r.ToolCalls) > 0 {
			return nil
		}
		v, err := decode[T](rs, r.Content)
		if err != nil {
			return invalidOutput(r.Content, true, "%v", err)
		}
		out = v
		return nil
	})
	if err != nil {
		return zero, nil, err
	}
	return out, resp, nil
}

// decode parses content, validates it against the schema, then fills a T.
func decode[T any](rs *jsonschema.Resolved, content string) (T, error) {
	var out T
	text := stripFence(content)
	var instance any
	if err := json.Unmarshal([]byte(text), &instance); err != nil {
		return out, fmt.Errorf("output is not JSON: %v", err)
	}
	if err := rs.Validate(instance); err != nil {
		return out, fmt.Errorf("output does not match the schema: %v", err)
	}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		return out, fmt.Errorf("output does not fit %s: %v", reflect.TypeFor[T](), err)
	}
	return out, nil
}

// stripFence removes a ```json … ``` fence that models without
// grammar-constrained decoding like to add.
func stripFence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "```"), "```")
	if i := strings.IndexByte(s, '\n'); i >= 0 && !strings.ContainsAny(s[:i], "{[\"") {
		s = s[i+1:] // the language tag line
	}
	return strings.TrimSpace(s)
}

// schemaName names T's schema after the type, as the wire requires a name.
func schemaName[T any]() string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, reflect.TypeFor[T]().Name())
	if name == "" {
		return "output"
	}
	return name[:min(len(name), 64)]
}
