package server

import (
	"html/template"
	"net/http"
)

// Entry is one line of the index page: a service that runs and where.
type Entry struct {
	Name        string
	URL         string // a link when it is http(s), shown as text otherwise
	Description string
	Command     string // a command to try, shown as code
}

// indexPage is deliberately plain: it must read well on a phone, with a
// screen reader, and without any asset.
var indexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:48rem;margin:0 auto;padding:1rem;line-height:1.5;color:#1e1e1e;overflow-wrap:anywhere}
h1{font-size:1.5rem}ul{padding-left:1.2rem}li{margin:.75rem 0}code{background:#f0f0f0;padding:0 .2rem}
pre{margin:.25rem 0;padding:.4rem;background:#f0f0f0;white-space:pre-wrap;overflow-wrap:anywhere}pre code{padding:0}
a{color:#000091}a:focus{outline:3px solid #0a76f6}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p>{{.Intro}}</p>
<ul>
{{range .Entries}}<li><strong>{{.Name}}</strong> — {{if .Link}}<a href="{{.URL}}">{{.URL}}</a>{{else}}<code>{{.URL}}</code>{{end}}{{if .Description}}<br>{{.Description}}{{end}}{{if .Command}}<pre><code>{{.Command}}</code></pre>{{end}}</li>
{{end}}</ul>
</main>
</body>
</html>
`))

// Index returns a handler for a page listing what runs.
func Index(title, intro string, entries []Entry) http.Handler {
	type row struct {
		Entry
		Link bool
	}
	rows := make([]row, len(entries))
	for i, e := range entries {
		rows[i] = row{e, len(e.URL) > 4 && (e.URL[:5] == "http:" || (len(e.URL) > 5 && e.URL[:6] == "https:"))}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		indexPage.Execute(w, struct {
			Title, Intro string
			Entries      []row
		}{title, intro, rows})
	})
}
