package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
)

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "courrier bench — %s — %s\n", r.StartedAt.Format("2006-01-02 15:04 MST"), r.Machine)
	keys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprint(w, "settings:")
	for _, k := range keys {
		fmt.Fprintf(w, " %s=%s", k, r.Settings[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tcount\tseconds\tper second\tp50 ms\tp99 ms\tCPU µs/item (courrier+sinks / PostgreSQL)\tWAL KB/item\tpeak RSS MB\tDB MB\tPG server CPU µs/item\tcommits/item\t")
	for _, p := range r.Phases {
		p50, p99 := "-", "-"
		if p.P50Millis > 0 {
			p50, p99 = fmt.Sprintf("%.0f", p.P50Millis), fmt.Sprintf("%.0f", p.P99Millis)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%s\t%s\t%.0f / %.0f\t%.1f\t%.0f\t%.0f\t%.0f\t%.2f\t\n", p.Name, p.Count, p.Seconds, p.PerSecond, p50, p99,
			p.CPUSelfMicros, p.CPUOtherMicros, p.WALBytes/1024, p.PeakRSSMB, p.DBSizeMB, p.CPUPostgresMicros, p.CommitsPerItem)
	}
	_ = tw.Flush()
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w, "\nratio to River's bare no-op throughput (same settings, same run):")
		names := make([]string, 0, len(r.Ratios))
		for k := range r.Ratios {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "  %-20s %5.1f %%\n", k, 100*r.Ratios[k])
		}
	}
	if len(r.Compliance) > 0 {
		fmt.Fprintln(w, "\ncompliance reports over the resulting ledger:")
		names := make([]string, 0, len(r.Compliance))
		for k := range r.Compliance {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "  %-20s %6.2f s\n", k, r.Compliance[k])
		}
	}
	if len(r.Checks) > 0 {
		fmt.Fprintln(w, "\nchecks:")
		for _, c := range r.Checks {
			fmt.Fprintln(w, "  ok", c)
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
