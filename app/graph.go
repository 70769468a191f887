package app

import (
	"net/http"

	"github.com/parleyhq/parley/channel/whatsapp"
	"github.com/parleyhq/parley/config"
)

// newGraph builds the WhatsApp Cloud API client from the configuration.
func newGraph(cfg config.Config, hc *http.Client) (*whatsapp.Client, error) {
	return whatsapp.NewClient(whatsapp.Config{
		BaseURL:    cfg.WhatsAppGraphURL,
		APIVersion: cfg.WhatsAppAPIVersion,
		HTTPClient: hc,
		RateLimit:  float64(cfg.WhatsAppRateLimit),
	})
}
