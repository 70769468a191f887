package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"github.com/parleyhq/parley/campaign"
	"github.com/parleyhq/parley/event"
	"io"

	"github.com/parleyhq/parley/followup"
	"github.com/parleyhq/parley/notify"
)

// events prints the event catalog, generated from the Go payload types.
func events(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "asyncapi", "asyncapi (an AsyncAPI 3.0 document) or jsonschema (one JSON Schema with every payload)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	var doc map[string]any
	var err error
	entries := append(event.Catalog(), followup.Catalog()...)
	entries = append(entries, notify.Catalog()...)
	entries = append(entries, campaign.Catalog()...)
	switch *format {
	case "asyncapi":
		doc, err = event.AsyncAPI(version, entries)
	case "jsonschema":
		doc, err = event.JSONSchemas(entries)
	default:
		return &usageError{fmt.Sprintf("--format: want asyncapi or jsonschema, not %q", *format)}
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
