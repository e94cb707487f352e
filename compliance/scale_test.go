package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkReportsAtScale times the yearly-notice and general-mailings
// reports over the current Paris calendar year on an existing database (a
// kept `courrier bench --phases reports --keep` one), and logs a digest of
// each report (metrics, evidence, lists, notes) so that two versions of the
// SQL can be compared on the same data. It needs
// COURRIER_REPORTS_DATABASE_URL naming that database:
//
//	COURRIER_REPORTS_DATABASE_URL=… go test ./compliance -run - -bench ReportsAtScale -benchtime 3x
func BenchmarkReportsAtScale(b *testing.B) {
	dsn := os.Getenv("COURRIER_REPORTS_DATABASE_URL")
	if dsn == "" {
		b.Skip("COURRIER_REPORTS_DATABASE_URL not set: this benchmark runs on a seeded database")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	y := time.Now().In(Paris).Year()
	p, err := ParsePeriod(fmt.Sprintf("%d-01-01", y), fmt.Sprintf("%d-12-31", y))
	if err != nil {
		b.Fatal(err)
	}
	p.AsOf = time.Now().UTC().Truncate(time.Hour)
	for _, rule := range []string{RuleYearlyNotice, RuleGeneralMailings} {
		b.Run(rule, func(b *testing.B) {
			var digest, source string
			for b.Loop() {
				r, err := Run(ctx, pool, rule, p)
				if err != nil {
					b.Fatal(err)
				}
				source = r.Source
				raw, err := json.Marshal(struct {
					M, E, L any
					N       []string
				}{r.Metrics, r.Evidence, r.Lists, r.Notes})
				if err != nil {
					b.Fatal(err)
				}
				d := fmt.Sprintf("%x", sha256.Sum256(raw))[:16]
				if digest != "" && d != digest {
					b.Fatalf("%s: two runs differ", rule)
				}
				digest = d
			}
			b.Logf("%s: source %s, digest %s", rule, source, digest)
		})
	}
}
