package federation

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/enthub/enthub/directory"
)

// Deps are what a connector is given rather than reaching for globals: the
// shared store (login states, assertion ids), the clock, randomness, the
// HTTP client towards the upstream, and the logger. Every connector type
// takes the same Deps.
type Deps struct {
	Store      directory.FederationStore
	Now        func() time.Time
	Rand       io.Reader
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// WithDefaults fills the optional fields: a discarding logger and an HTTP
// client with a 30-second timeout.
func (d Deps) WithDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return d
}
