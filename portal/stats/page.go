package stats

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/enthub/enthub/directory"
	"github.com/enthub/enthub/directory/usage"
	"github.com/enthub/enthub/portal/lang"
)

// section is one breakdown on the page: its chart and its table.
type section struct {
	ID, Title, KeyCol, CountCol string
	Chart                       template.HTML
	Rows                        []usage.Row
	HasUsers                    bool
	ExportCSV, ExportXLSX       string
}

type pageData struct {
	T         catalogue
	Base      string
	Form      filterForm
	Schools   []directory.Structure
	Report    *usage.Report
	Sections  []section
	Avail     []availRow
	XLSXAll   string
	HasErrors bool
}

type availRow struct {
	Day                   string
	Percent               string
	ReadyMinutes, Minutes int64
}

var funcs = template.FuncMap{
	"num": func(n int64) string { return groupDigits(n) },
}

// groupDigits writes 1234567 as "1 234 567" (a thin space would be
// French typography; a plain one reads everywhere).
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

const pageTemplate = `{{define "body"}}{{$t := .T}}
<p>{{$t.Tr "intro"}}</p>
{{if .HasErrors}}<div role="alert" id="errors"><h2>{{$t.Tr "error.title"}}</h2><ul>
{{range $f, $m := .Form.Errors}}<li><a href="#{{$f}}">{{$m}}</a></li>{{end}}</ul></div>{{end}}
<form method="get" action="{{.Base}}" aria-labelledby="filter-title">
<h2 id="filter-title">{{$t.Tr "filter"}}</h2>
<p><label for="from">{{$t.Tr "from"}}</label>
<input id="from" name="from" type="date" value="{{.Form.From}}" aria-describedby="date-hint{{if index .Form.Errors "from"}} from-error{{end}}"{{if index .Form.Errors "from"}} aria-invalid="true"{{end}}>
{{with index .Form.Errors "from"}}<span id="from-error">{{.}}</span>{{end}}</p>
<p><label for="to">{{$t.Tr "to"}}</label>
<input id="to" name="to" type="date" value="{{.Form.To}}" aria-describedby="date-hint{{if index .Form.Errors "to"}} to-error{{end}}"{{if index .Form.Errors "to"}} aria-invalid="true"{{end}}>
{{with index .Form.Errors "to"}}<span id="to-error">{{.}}</span>{{end}}</p>
<p id="date-hint">{{$t.Tr "date.hint"}}</p>
<p><label for="school">{{$t.Tr "school"}}</label>
<select id="school" name="school"{{if index .Form.Errors "school"}} aria-invalid="true" aria-describedby="school-error"{{end}}>
<option value="">{{$t.Tr "school.all"}}</option>
{{range .Schools}}<option value="{{.ID}}"{{if eq .ID $.Form.School}} selected{{end}}>{{.Name}}{{if .UAI}} ({{.UAI}}){{end}}</option>
{{end}}</select>
{{with index .Form.Errors "school"}}<span id="school-error">{{.}}</span>{{end}}</p>
<p><button type="submit">{{$t.Tr "apply"}}</button></p>
</form>
{{with .Report}}
<section aria-labelledby="summary-title">
<h2 id="summary-title">{{$t.Tr "summary"}}</h2>
<dl>
<dt>{{$t.Tr "period"}}</dt><dd>{{.Filter.From}} – {{.Filter.To}}</dd>
<dt>{{$t.Tr "logins"}}</dt><dd id="total-logins">{{num .Logins}}</dd>
<dt>{{$t.Tr "users"}}</dt><dd id="total-users">{{num .Users}}</dd>
<dt>{{$t.Tr "visits"}}</dt><dd id="total-visits">{{num .Visits}}</dd>
<dt>{{$t.Tr "failed"}}</dt><dd id="total-failed">{{num .Failed}}</dd>
</dl>
<p><a href="{{$.XLSXAll}}">{{$t.Tr "export"}} : {{$t.Tr "export.xlsx"}}</a></p>
</section>
{{range $.Sections}}
<section aria-labelledby="{{.ID}}-title">
<h2 id="{{.ID}}-title">{{.Title}}</h2>
{{.Chart}}
{{if .Rows}}<div class="table-wrap" role="region" tabindex="0" aria-labelledby="{{.ID}}-title"><table id="{{.ID}}-table">
<caption>{{.Title}}</caption>
<thead><tr><th scope="col">{{.KeyCol}}</th><th scope="col">{{.CountCol}}</th>{{if .HasUsers}}<th scope="col">{{$t.Tr "users"}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr><th scope="row">{{if .Label}}{{.Label}}{{else}}{{.Key}}{{end}}</th><td>{{num .Logins}}</td>{{if .HasUsers}}<td>{{num .Users}}</td>{{end}}</tr>
{{end}}</tbody>
</table></div>{{else}}<p>{{$t.Tr "empty"}}</p>{{end}}
<p>{{$t.Tr "export"}} : <a href="{{.ExportCSV}}">{{$t.Tr "export.csv"}}<span> — {{.Title}}</span></a>,
<a href="{{.ExportXLSX}}">{{$t.Tr "export.xlsx"}}<span> — {{.Title}}</span></a></p>
</section>
{{end}}
<section aria-labelledby="avail-title">
<h2 id="avail-title">{{$t.Tr "availability"}}</h2>
{{if $.Avail}}<div class="table-wrap" role="region" tabindex="0" aria-labelledby="avail-title"><table id="avail-table">
<caption>{{$t.Tr "availability"}}</caption>
<thead><tr><th scope="col">{{$t.Tr "col.day"}}</th><th scope="col">{{$t.Tr "avail.percent"}}</th><th scope="col">{{$t.Tr "avail.ready"}}</th><th scope="col">{{$t.Tr "avail.minutes"}}</th></tr></thead>
<tbody>
{{range $.Avail}}<tr><th scope="row">{{.Day}}</th><td>{{.Percent}}</td><td>{{.ReadyMinutes}}</td><td>{{.Minutes}}</td></tr>
{{end}}</tbody>
</table></div>{{else}}<p>{{$t.Tr "avail.none"}}</p>{{end}}
</section>
{{end}}
{{end}}`

// page renders the statistics.
func (h *Handler) page(w http.ResponseWriter, r *http.Request, v Viewer) (map[string]string, error) {
	l := lang.Of(r)
	c := catalogue(texts[l])
	rep, form, schools, err := h.report(r, c)
	if err != nil {
		h.o.Logger.Error("statistics", "err", err)
		http.Error(w, "service indisponible / service unavailable", http.StatusServiceUnavailable)
		return nil, err
	}
	d := pageData{T: c, Base: h.o.BasePath, Form: form, Schools: schools, Report: rep, HasErrors: len(form.Errors) > 0}
	status := http.StatusOK
	if d.HasErrors {
		status = http.StatusBadRequest
	}
	if rep != nil {
		d.XLSXAll = h.exportURL(form, l, "xlsx", "")
		for _, by := range usage.Breakdowns {
			rows, _ := rep.By(by)
			s := section{ID: "by-" + by, Title: c.t("by." + by), KeyCol: c.t("col." + by), CountCol: c.t("logins"), Rows: rows,
				ExportCSV: h.exportURL(form, l, "csv", by), ExportXLSX: h.exportURL(form, l, "xlsx", by)}
			if by == "service" {
				s.CountCol = c.t("col.visits")
			}
			s.HasUsers = len(rows) > 0 && rows[0].HasUsers
			s.Chart = barChart(s.ID, s.Title, fmt.Sprintf(c.t("chart.desc"), s.Title, rep.Filter.From, rep.Filter.To), c.t("chart.axis.count"), s.KeyCol, rows, by == "day" || by == "hour")
			d.Sections = append(d.Sections, s)
		}
		for _, a := range rep.Availability {
			d.Avail = append(d.Avail, availRow{Day: a.Day, Percent: fmt.Sprintf("%.2f", a.Percent()), ReadyMinutes: a.ReadyMinutes, Minutes: a.Minutes})
		}
	}
	var b bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&b, "body", d); err != nil {
		return nil, fmt.Errorf("statistics page: %w", err)
	}
	pg := h.pageFrame(r, v, l, c.t("title"), template.HTML(b.String()))
	pg.Status = status
	if err := h.o.Layout.Render(w, r, pg); err != nil {
		return nil, err
	}
	return map[string]string{"from": form.From, "to": form.To, "school": form.School}, nil
}

func (h *Handler) exportURL(f filterForm, l, format, by string) string {
	q := url.Values{"from": {f.From}, "to": {f.To}, "format": {format}, "lang": {l}}
	if f.School != "" {
		q.Set("school", f.School)
	}
	if by != "" {
		q.Set("by", by)
	}
	return h.o.BasePath + "/export?" + q.Encode()
}

// BasicLayout is a minimal accessible frame: language, title, skip link,
// landmarks, the link to the other language. The console's shared layout
// replaces it.
type BasicLayout struct{}

var basicLayout = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
</head>
<body>
<a href="#main">{{.SkipLabel}}</a>
<header><nav><a href="{{.OtherLangHref}}" lang="{{.OtherLang}}" hreflang="{{.OtherLang}}">{{.OtherLangLabel}}</a></nav></header>
<main id="main">
<h1>{{.Title}}</h1>
{{.Body}}
</main>
</body>
</html>
`))

// Render writes the page.
func (BasicLayout) Render(w http.ResponseWriter, _ *http.Request, p Page) error {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	if p.Status != 0 {
		w.WriteHeader(p.Status)
	}
	return basicLayout.Execute(w, p)
}
