package stats

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/enthub/enthub/directory/usage"
	"github.com/enthub/enthub/portal/lang"
	"github.com/xuri/excelize/v2"
)

// export writes a breakdown as CSV, or the report as an XLSX workbook
// (one breakdown, or all of them with the summary and availability).
func (h *Handler) export(w http.ResponseWriter, r *http.Request, _ Viewer) (map[string]string, error) {
	l := lang.Of(r)
	c := catalogue(texts[l])
	q := r.URL.Query()
	format, by := q.Get("format"), q.Get("by")
	if format != "csv" && format != "xlsx" {
		http.Error(w, fmt.Sprintf("format %q : csv ou xlsx / csv or xlsx", format), http.StatusBadRequest)
		return nil, fmt.Errorf("format %q: want csv or xlsx", format)
	}
	if by == "" && format == "csv" {
		by = "day"
	}
	rep, form, _, err := h.report(r, c)
	if err != nil {
		http.Error(w, "service indisponible / service unavailable", http.StatusServiceUnavailable)
		return nil, err
	}
	if len(form.Errors) > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		for f, m := range form.Errors {
			fmt.Fprintf(w, "%s: %s\n", f, m)
		}
		return nil, fmt.Errorf("bad filter")
	}
	if by != "" {
		if _, err := rep.By(by); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return nil, err
		}
	}
	name := "statistiques-" + rep.Filter.From + "-" + rep.Filter.To
	if by != "" {
		name += "-" + by
	}
	details := map[string]string{"from": form.From, "to": form.To, "school": form.School, "format": format, "by": by}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"."+format+`"`)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		rows, _ := rep.By(by)
		return details, WriteCSV(w, l, by, rows)
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	return details, WriteXLSX(w, l, rep, by)
}

// header is the first line of a breakdown's table.
func header(c catalogue, by string, hasUsers bool) []string {
	count := c.t("logins")
	if by == "service" {
		count = c.t("col.visits")
	}
	h := []string{c.t("col." + by), c.t("label"), count}
	if hasUsers {
		h = append(h, c.t("users"))
	}
	return h
}

func hasUsers(rows []usage.Row) bool { return len(rows) > 0 && rows[0].HasUsers }

// WriteCSV writes one breakdown: key, label, count and, where counted,
// distinct users; the header is in the language l ("fr" or "en").
func WriteCSV(w io.Writer, l, by string, rows []usage.Row) error {
	c := catalogue(texts["fr"])
	if l == "en" {
		c = texts["en"]
	}
	cw := csv.NewWriter(w)
	withUsers := hasUsers(rows)
	if err := cw.Write(header(c, by, withUsers)); err != nil {
		return err
	}
	for _, r := range rows {
		line := []string{r.Key, r.Label, strconv.FormatInt(r.Logins, 10)}
		if withUsers {
			line = append(line, strconv.FormatInt(r.Users, 10))
		}
		if err := cw.Write(line); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteXLSX writes the report as a workbook: with by, that breakdown;
// without, a summary sheet, one sheet per breakdown and the availability.
// Counts are numbers in the cells, not text, so the sheet sums them.
func WriteXLSX(w io.Writer, l string, rep *usage.Report, by string) error {
	c := catalogue(texts[l])
	f := excelize.NewFile()
	defer f.Close()
	first := true
	sheet := func(name string) (string, error) {
		if first {
			first = false
			return name, f.SetSheetName("Sheet1", name)
		}
		_, err := f.NewSheet(name)
		return name, err
	}
	put := func(sh string, row int, values ...any) error {
		cell, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return err
		}
		return f.SetSheetRow(sh, cell, &values)
	}
	breakdowns := usage.Breakdowns
	if by != "" {
		breakdowns = []string{by}
	} else {
		sh, err := sheet(c.t("summary.sheet"))
		if err != nil {
			return err
		}
		for i, kv := range [][2]any{{c.t("period"), rep.Filter.From + " – " + rep.Filter.To}, {c.t("school"), rep.Filter.Structure},
			{c.t("logins"), rep.Logins}, {c.t("users"), rep.Users}, {c.t("visits"), rep.Visits}, {c.t("failed"), rep.Failed}} {
			if err := put(sh, i+1, kv[0], kv[1]); err != nil {
				return err
			}
		}
	}
	for _, b := range breakdowns {
		rows, err := rep.By(b)
		if err != nil {
			return err
		}
		sh, err := sheet(c.t("col." + b))
		if err != nil {
			return fmt.Errorf("sheet %s: %w", b, err)
		}
		withUsers := hasUsers(rows)
		hd := header(c, b, withUsers)
		vals := make([]any, len(hd))
		for i, v := range hd {
			vals[i] = v
		}
		if err := put(sh, 1, vals...); err != nil {
			return err
		}
		for i, r := range rows {
			line := []any{r.Key, r.Label, r.Logins}
			if withUsers {
				line = append(line, r.Users)
			}
			if err := put(sh, i+2, line...); err != nil {
				return err
			}
		}
	}
	if by == "" {
		sh, err := sheet(c.t("availability"))
		if err != nil {
			return err
		}
		if err := put(sh, 1, c.t("col.day"), c.t("avail.percent"), c.t("avail.ready"), c.t("avail.minutes")); err != nil {
			return err
		}
		for i, a := range rep.Availability {
			if err := put(sh, i+2, a.Day, a.Percent(), a.ReadyMinutes, a.Minutes); err != nil {
				return err
			}
		}
	}
	return f.Write(w)
}
