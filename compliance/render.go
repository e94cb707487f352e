package compliance

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats a report can be written in.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
)

// Write renders r to w in format (table, csv or json).
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatTable, "":
		return WriteTable(w, r)
	case FormatCSV:
		return WriteCSV(w, r)
	case FormatJSON:
		return WriteJSON(w, r)
	}
	return fmt.Errorf("%w: format %q (want table, csv or json)", ErrInvalid, format)
}

// WriteJSON renders r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// FormatValue renders a metric value in its unit: basis points as a
// percentage with two decimals, seconds as days/hours/minutes/seconds.
func FormatValue(m Metric) string {
	switch m.Unit {
	case UnitBasisPoints:
		return fmt.Sprintf("%d.%02d %%", m.Value/100, m.Value%100)
	case UnitSeconds:
		d := time.Duration(m.Value) * time.Second
		days := m.Value / 86400
		rest := d - time.Duration(days)*24*time.Hour
		if days > 0 {
			return fmt.Sprintf("%dd %s (%d s)", days, rest, m.Value)
		}
		return fmt.Sprintf("%s (%d s)", rest, m.Value)
	}
	return strconv.FormatInt(m.Value, 10)
}

func verdict(r *Report) string {
	if r.Pass {
		return "PASS"
	}
	return "FAIL"
}

func day(t time.Time) string { return t.In(Paris).Format("2006-01-02 15:04:05 MST") }

// WriteTable renders r for a terminal.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "rule\t%s — %s\n", r.Rule, r.Title)
	fmt.Fprintf(tw, "period\t%s → %s (as of %s)\n", day(r.Period.From), day(r.Period.To), day(r.Period.AsOf))
	fmt.Fprintf(tw, "target\t%s\n", r.Target)
	fmt.Fprintf(tw, "counted as delivered\t%s\n", strings.Join(r.Period.Accept, ", "))
	if len(r.Period.Cafs) > 0 {
		fmt.Fprintf(tw, "Cafs\t%s\n", strings.Join(r.Period.Cafs, ", "))
	}
	fmt.Fprintf(tw, "result\t%s\n", verdict(r))
	fmt.Fprintln(tw, "\t")
	fmt.Fprintln(tw, "metric\tvalue")
	for _, m := range r.Metrics {
		fmt.Fprintf(tw, "%s\t%s\n", m.Name, FormatValue(m))
	}
	fmt.Fprintln(tw, "\t")
	fmt.Fprintln(tw, "evidence level\tnotices")
	if len(r.Evidence) == 0 {
		fmt.Fprintln(tw, "(none)\t0")
	}
	for _, e := range r.Evidence {
		fmt.Fprintf(tw, "%s\t%d\n", e.Level, e.Count)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note\t%s\n", n)
	}
	if len(r.ByCaf) > 0 {
		fmt.Fprintln(tw, "\t")
		fmt.Fprintf(tw, "Caf\tresult")
		for _, m := range r.ByCaf[0].Metrics {
			fmt.Fprintf(tw, "\t%s", m.Name)
		}
		fmt.Fprintln(tw)
		for _, c := range r.ByCaf {
			res := "FAIL"
			if c.Pass {
				res = "PASS"
			}
			fmt.Fprintf(tw, "%s\t%s", c.Caf, res)
			for _, m := range c.Metrics {
				fmt.Fprintf(tw, "\t%s", FormatValue(m))
			}
			fmt.Fprintln(tw)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range r.Lists {
		fmt.Fprintf(w, "\n%s (%d): %s\n", l.Name, len(l.Entries), l.Help)
		if len(l.Entries) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ref\titem\tat\tvalue")
		for _, e := range l.Entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", e.Ref, e.Item, atString(e.At, day), e.Value)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func atString(t *time.Time, f func(time.Time) string) string {
	if t == nil {
		return ""
	}
	return f(*t)
}

// WriteCSV renders r as CSV rows of (section, name, ref, item, at, value,
// unit): one "result" row, then metrics, evidence levels and list entries.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	rows := [][]string{
		{"section", "name", "ref", "item", "at", "value", "unit"},
		{"result", r.Rule, "", rfc(r.Period.From) + "/" + rfc(r.Period.To), rfc(r.Period.AsOf), verdict(r), r.Target},
	}
	for _, m := range r.Metrics {
		rows = append(rows, []string{"metric", m.Name, "", "", "", strconv.FormatInt(m.Value, 10), m.Unit})
	}
	for _, e := range r.Evidence {
		rows = append(rows, []string{"evidence", e.Level, "", "", "", strconv.FormatInt(e.Count, 10), UnitCount})
	}
	for _, l := range r.Lists {
		for _, e := range l.Entries {
			rows = append(rows, []string{"list", l.Name, e.Ref, e.Item, atString(e.At, rfc), strconv.FormatInt(e.Value, 10), ""})
		}
	}
	for _, c := range r.ByCaf {
		for _, m := range c.Metrics {
			rows = append(rows, []string{"caf:" + c.Caf, m.Name, "", "", "", strconv.FormatInt(m.Value, 10), m.Unit})
		}
	}
	for _, n := range r.Notes {
		rows = append(rows, []string{"note", "", "", "", "", n, ""})
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
