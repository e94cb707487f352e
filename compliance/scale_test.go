package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestReportsAtScale times the yearly-notice and general-mailings reports
// over the current Paris calendar year on an existing database (a kept
// `courrier bench --phases reports --keep` one): three runs each, the
// median logged with a digest of the report (metrics, evidence, lists) so
// that two versions of the SQL can be compared on the same data. Only
// when COURRIER_REPORTS_DATABASE_URL names the database.
func TestReportsAtScale(t *testing.T) {
	dsn := os.Getenv("COURRIER_REPORTS_DATABASE_URL")
	if dsn == "" {
		t.Skip("COURRIER_REPORTS_DATABASE_URL not set")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	y := time.Now().In(Paris).Year()
	p, err := ParsePeriod(fmt.Sprintf("%d-01-01", y), fmt.Sprintf("%d-12-31", y))
	if err != nil {
		t.Fatal(err)
	}
	p.AsOf = time.Now().UTC().Truncate(time.Hour)
	for _, rule := range []string{RuleYearlyNotice, RuleGeneralMailings} {
		var runs []float64
		var digest, source string
		for range 3 {
			t0 := time.Now()
			r, err := Run(ctx, pool, rule, p)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, time.Since(t0).Seconds())
			source = r.Source
			r.GeneratedAt = time.Time{}
			b, err := json.Marshal(struct {
				M, E, L any
				N       []string
			}{r.Metrics, r.Evidence, r.Lists, r.Notes})
			if err != nil {
				t.Fatal(err)
			}
			d := fmt.Sprintf("%x", sha256.Sum256(b))[:16]
			if digest != "" && d != digest {
				t.Fatalf("%s: two runs differ", rule)
			}
			digest = d
		}
		slices.Sort(runs)
		t.Logf("%s: median %.2f s (%.2f/%.2f/%.2f), source %s, digest %s", rule, runs[1], runs[0], runs[1], runs[2], source, digest)
	}
}
