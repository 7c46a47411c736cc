package launcher

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/portal/console"
)

var (
	uaiPattern    = regexp.MustCompile(`^[0-9]{7}[A-Z]$`)
	colourPattern = regexp.MustCompile(`^#[0-9a-f]{6}$`)
	// A path on the site, of characters that need no escaping in a CSS
	// url("…") or an HTML attribute: the stylesheet is generated from it.
	sitePathPattern = regexp.MustCompile(`^/[A-Za-z0-9._~/-]{1,200}$`)
)

// checkBranding validates a branding as the editor's form gives it, and
// returns the errors by field (the form's input names). Colours must be
// #rrggbb with a contrast of at least 4.5:1 on white (WCAG 2.1 AA for
// text), since they colour labels and links; images are paths on the site,
// the only place the CSP lets pages load them from.
func checkBranding(b *directory.Branding) []console.FieldError {
	var errs []console.FieldError
	if !uaiPattern.MatchString(b.UAI) {
		errs = append(errs, console.FieldError{Field: "uai", Key: "err.uai"})
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"logo_url", &b.LogoURL}, {"banner_url", &b.BannerURL}} {
		*f.v = strings.TrimSpace(*f.v)
		if *f.v != "" && (!sitePathPattern.MatchString(*f.v) || strings.Contains(*f.v, "//") || strings.Contains(*f.v, "..")) {
			errs = append(errs, console.FieldError{Field: f.name, Key: "err.site_path"})
		}
	}
	b.Banner = strings.TrimSpace(b.Banner)
	if len([]rune(b.Banner)) > 200 {
		errs = append(errs, console.FieldError{Field: "banner", Key: "err.banner_long"})
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"primary", &b.Primary}, {"accent", &b.Accent}, {"ink", &b.Ink}} {
		*f.v = strings.ToLower(strings.TrimSpace(*f.v))
		if *f.v == "" {
			continue
		}
		if !colourPattern.MatchString(*f.v) {
			errs = append(errs, console.FieldError{Field: f.name, Key: "err.colour"})
		} else if contrastOnWhite(*f.v) < 4.5 {
			errs = append(errs, console.FieldError{Field: f.name, Key: "err.contrast"})
		}
	}
	return errs
}

// contrastOnWhite is the WCAG contrast ratio of #rrggbb on #ffffff.
func contrastOnWhite(hex string) float64 {
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(hex[1:3]) + 0.7152*lin(hex[3:5]) + 0.0722*lin(hex[5:7])
	return 1.05 / (l + 0.05)
}

// brandCSS serves a school's stylesheet: its custom properties, from
// values checked when they were stored and checked again here, so a row
// written by other means cannot inject CSS.
func (lc *Launcher) brandCSS(w http.ResponseWriter, r *http.Request) {
	uai, ok := strings.CutSuffix(r.PathValue("file"), ".css")
	if !ok || !uaiPattern.MatchString(uai) {
		http.NotFound(w, r)
		return
	}
	b, err := lc.o.Store.Branding(r.Context(), uai)
	if errors.Is(err, directory.ErrNotFound) {
		b = directory.Branding{UAI: uai} // no branding yet: the defaults
	} else if err != nil {
		lc.o.Logger.Error("launcher: branding", "uai", uai, "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	console.SecurityHeaders(w)
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = fmt.Fprint(w, brandStylesheet(b))
}

// brandStylesheet renders the checked values; a value that fails its
// check is left out (the launcher's defaults apply).
func brandStylesheet(b directory.Branding) string {
	var sb strings.Builder
	sb.WriteString("/* " + b.UAI + " */\n:root{")
	for _, p := range []struct{ name, v string }{{"--brand-primary", b.Primary}, {"--brand-accent", b.Accent}, {"--brand-ink", b.Ink}} {
		if colourPattern.MatchString(p.v) && contrastOnWhite(p.v) >= 4.5 {
			sb.WriteString(p.name + ":" + p.v + ";")
		}
	}
	if b.BannerURL != "" && sitePathPattern.MatchString(b.BannerURL) && !strings.Contains(b.BannerURL, "..") {
		sb.WriteString(`--brand-banner:url("` + b.BannerURL + `");`)
	}
	sb.WriteString("}\n")
	return sb.String()
}
