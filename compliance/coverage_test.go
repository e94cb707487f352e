package compliance_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/ledger"
)

// randomHistory records, through the ledger's write functions, a random
// history: beneficiaries under three Cafs (some inactive, some who joined
// recently, a few with notices under a second Caf), personalised notices and
// general mailings delivered on every channel at random instants of
// 2026–2029 (some never delivered, some test notices, some revoked by a
// bounce and some delivered again), then seals it.
func randomHistory(t *testing.T, f *fx, seed uint64, multiCaf bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	cafs := []string{"751", "974", ""}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	span := int64(4 * 365 * 24 * time.Hour)
	at := func() time.Time {
		return start.Add(time.Duration(rng.Int64N(span))).Truncate(time.Microsecond)
	}
	kinds := []string{"rights_opened", "rights_changed", "no_rights", "yearly_statement", "general_information", "general_information",
		"general_information", "request_answer"}
	providers := []string{"smtp", "twilio", "print", "outbox"}
	for i := range 40 {
		joined := paris(2020, 1, 1, 0, 0, 0)
		if rng.IntN(4) == 0 {
			joined = at()
		}
		rid := f.recipient(fmt.Sprintf("S%03d", i), joined)
		caf := cafs[rng.IntN(len(cafs))]
		_, err := f.pool.Exec(f.ctx, `UPDATE recipients SET caf = nullif($2, ''), active = $3 WHERE id = $1`, rid, caf, rng.IntN(10) != 0)
		require.NoError(t, err)
		for range rng.IntN(9) {
			created := at()
			var delivered *time.Time
			if rng.IntN(8) != 0 {
				d := created.Add(time.Duration(rng.Int64N(int64(72 * time.Hour)))).Truncate(time.Microsecond)
				delivered = &d
			}
			nid := f.noticeOpts(rid, kinds[rng.IntN(len(kinds))], created, delivered, providers[rng.IntN(len(providers))], rng.IntN(15) == 0)
			if delivered != nil && rng.IntN(10) == 0 {
				// A bounce revokes the evidence; sometimes a later receipt proves it again.
				var did int64
				require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT id FROM deliveries WHERE notice_id = $1`, nid).Scan(&did))
				_, err := f.pool.Exec(f.ctx, `INSERT INTO delivery_events (delivery_id, notice_id, event, detail, occurred_at, facts)
					VALUES ($1, $2, 'bounced', 'test', $3, '{"channel":"email"}')`, did, nid, delivered.Add(time.Hour))
				require.NoError(t, err)
				if rng.IntN(2) == 0 {
					_, err := f.pool.Exec(f.ctx, `INSERT INTO delivery_events (delivery_id, notice_id, event, detail, occurred_at, facts)
						VALUES ($1, $2, 'delivered', 'test', $3, '{"channel":"letter","evidence":"print_handed"}')`, did, nid, delivered.Add(48*time.Hour))
					require.NoError(t, err)
				}
			}
		}
		if multiCaf && i%10 == 0 {
			// The beneficiary moves to another Caf: later notices carry it.
			_, err := f.pool.Exec(f.ctx, `UPDATE recipients SET caf = '690' WHERE id = $1`, rid)
			require.NoError(t, err)
			d := at()
			f.notice(rid, "yearly_statement", d, &d, "print")
		}
	}
	f.seal()
}

// The reports the coverage projection gives are those the notice
// projection gives (itself recomputed from the sealed events by verify), on
// random histories, for every period shape, both evidence modes, national
// and per Caf.
func TestCoverageReportsEqualNoticeReports(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			randomHistory(t, f, seed, seed == 2)
			res, err := ledger.Verify(f.ctx, f.pool, ledger.VerifyOptions{Verifier: testKey.Verifier})
			require.NoError(t, err)
			require.True(t, res.OK, "%v", res.Breaks)
			require.Positive(t, res.Coverage)
			all, err := compliance.ParseAccept("all")
			require.NoError(t, err)
			periods := [][2]string{{"2027-01-01", "2027-12-31"}, {"2028-01-01", "2028-12-31"}, {"2026-06-01", "2027-12-31"},
				{"2027-03-15", "2027-04-02"}, {"2029-01-01", "2029-12-31"}, {"2026-01-01", "2029-12-31"}, {"2030-01-01", "2030-06-30"}}
			fast := 0
			seen := map[string]int64{}
			for _, pp := range periods {
				for _, accept := range [][]string{nil, all} {
					for _, rule := range []string{compliance.RuleYearlyNotice, compliance.RuleGeneralMailings} {
						p, err := compliance.ParsePeriod(pp[0], pp[1])
						require.NoError(t, err)
						p.AsOf, p.Accept = paris(2031, 1, 1, 0, 0, 0), accept
						got, err := compliance.RunByCaf(f.ctx, f.pool, rule, p)
						require.NoError(t, err)
						want, err := compliance.RunByCaf(compliance.FromNotices(f.ctx), f.pool, rule, p)
						require.NoError(t, err)
						require.Equal(t, compliance.SourceNotices, want.Source)
						if got.Source == compliance.SourceCoverage {
							fast++
						}
						got.GeneratedAt, want.GeneratedAt, got.Source = time.Time{}, time.Time{}, want.Source
						require.Equal(t, want, got, "%s %v accept %v", rule, pp, accept)
						for _, m := range got.Metrics {
							seen[m.Name] += m.Value
						}
						for _, l := range got.Lists {
							seen["list "+l.Name] += int64(len(l.Entries))
						}
						seen["evidence"] += int64(len(got.Evidence))
						for _, caf := range []string{"751", "974", compliance.NoCaf, "690"} {
							p.Cafs = []string{caf}
							got, err := compliance.Run(f.ctx, f.pool, rule, p)
							require.NoError(t, err)
							require.Equal(t, compliance.SourceCoverage, got.Source)
							want, err := compliance.Run(compliance.FromNotices(f.ctx), f.pool, rule, p)
							require.NoError(t, err)
							got.GeneratedAt, want.GeneratedAt, got.Source = time.Time{}, time.Time{}, want.Source
							require.Equal(t, want, got, "%s %v accept %v Caf %s", rule, pp, accept, caf)
						}
					}
				}
			}
			// The histories exercise every outcome.
			for _, k := range []string{"covered", "not_covered", "not_yet_due", "at_risk", "list not_covered", "list at_risk",
				"delivered_general_mailings", "below_target", "list joined_mid_year", "evidence"} {
				require.Positive(t, seen[k], k)
			}
			if seed == 2 {
				// A beneficiary with notices under two Cafs: the national report
				// reads the notices (the coverage rows are per Caf).
				require.Zero(t, fast)
			} else {
				require.Equal(t, 2*2*len(periods), fast)
			}
		})
	}
}

// A report judged at an instant before some sealed delivery reads the
// notices (the coverage projection holds every delivery), and agrees.
func TestCoverageNotUsedBeforeLastDelivery(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.recipient("A1", paris(2020, 1, 1, 0, 0, 0))
	f.notice(r, "rights_opened", paris(2027, 1, 10, 9, 0, 0), ptr(paris(2027, 1, 10, 10, 0, 0)), "print")
	f.notice(r, "yearly_statement", paris(2027, 12, 20, 9, 0, 0), ptr(paris(2027, 12, 20, 10, 0, 0)), "print")
	rep := f.run(compliance.RuleYearlyNotice, "2027-06-01", "2027-12-31", paris(2027, 12, 1, 0, 0, 0))
	require.Equal(t, compliance.SourceNotices, rep.Source)
	require.Equal(t, []string{"A1"}, rep.Refs("at_risk"))
	rep = f.run(compliance.RuleYearlyNotice, "2027-06-01", "2027-12-31", paris(2028, 1, 1, 0, 0, 0))
	require.Equal(t, compliance.SourceCoverage, rep.Source)
	require.Empty(t, rep.Refs("at_risk"))
	require.EqualValues(t, 1, metric(t, rep, "covered"))
}
