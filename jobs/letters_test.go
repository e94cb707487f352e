package jobs

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/channels/letters"
	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
)

type letterBundle struct {
	*testBundle
	cfg   *LetterConfig
	house *letters.DropDir
	spool string
}

// setupLetters routes letters through the real letter channel, with a
// drop-directory print house.
func setupLetters(t *testing.T) *letterBundle {
	t.Helper()
	b := setup(t)
	spool := t.TempDir()
	ch, err := letters.New(letters.Config{Pool: b.pool, SpoolDir: spool, Now: func() time.Time { return b.now },
		Postage: func(kind string) string {
			if kind == string(notices.RightsOpened) {
				return letters.LettrePrioritaire
			}
			return letters.LettreVerte
		}})
	require.NoError(t, err)
	b.deps.Channels[channels.Letter] = ch
	house := &letters.DropDir{Dir: t.TempDir()}
	return &letterBundle{testBundle: b, house: house, spool: spool, cfg: &LetterConfig{
		Cutoff: letters.DefaultCutoff,
		Batch:  letters.BatchConfig{Pool: b.pool, SpoolDir: spool, House: house, Now: func() time.Time { return b.now }},
	}}
}

// postOnly is a beneficiary reachable only by post.
func postOnly(r *recipients.Recipient) {
	r.Email, r.Phone = "", ""
	r.FamilyName = "Lefèvre-Œuvray"
	r.AddressLine1 = "12 rue de l'Église"
	r.PostalCode, r.City = "97400", "Saint-Denis"
}

func pdfPages(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("pdfinfo", path).Output()
	require.NoError(t, err)
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "Pages:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no Pages in pdfinfo output")
	return 0
}

func letterEvents(t *testing.T, b *letterBundle, noticeID int64) []string {
	t.Helper()
	evs, err := ledger.EventsForNotice(context.Background(), b.pool, noticeID)
	require.NoError(t, err)
	var out []string
	for _, e := range evs {
		out = append(out, e.Event)
	}
	return out
}

// TestLettersEndToEnd: notices for post-only beneficiaries become PDF
// letters, a Friday 16:00 cut-off batches and hands them to the drop
// directory, the manifest's page counts match the merged PDFs, and the
// print house's receipts land in the ledger.
func TestLettersEndToEnd(t *testing.T) {
	t.Parallel()
	b := setupLetters(t)
	ctx := context.Background()
	friday := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) // Friday 11:00 Paris
	b.now = friday
	var ids []int64
	for i := range 3 {
		rid := b.recipient(t, fmt.Sprintf("200000%d", i), func(r *recipients.Recipient) {
			postOnly(r)
			r.JoinedAt = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) // due a yearly notice
		})
		n := rightsNotice(rid, fmt.Sprintf("k-letter-%d", i))
		if i == 2 {
			n.Kind, n.Data = notices.Kind("general_information"), templates.SampleData("general_information")
		}
		id, _ := b.enqueue(t, n)
		require.NoError(t, b.deps.deliver(ctx, id, false))
		ids = append(ids, id)
	}
	for _, id := range ids {
		n, err := notices.Get(ctx, b.pool, id)
		require.NoError(t, err)
		require.Equal(t, notices.StateSent, n.State, n.StateReason)
		require.Equal(t, "letter", n.Channel)
	}
	spooled, _ := filepath.Glob(filepath.Join(b.spool, "L*.pdf"))
	require.Len(t, spooled, 3)

	// Nothing before the cut-off: Thursday's cut-off precedes the letters.
	batches, _, err := RunLetterCutoff(ctx, b.cfg, b.client, letters.DefaultCutoff.Last(friday))
	require.NoError(t, err)
	require.Empty(t, batches)

	b.now = time.Date(2026, 12, 4, 15, 0, 1, 0, time.UTC) // Friday 16:00:01 Paris
	cutoff := b.cfg.Cutoff.Last(b.now)
	require.Equal(t, time.Date(2026, 12, 4, 16, 0, 0, 0, time.FixedZone("CET", 3600)).Unix(), cutoff.Unix())
	batches, _, err = RunLetterCutoff(ctx, b.cfg, b.client, cutoff)
	require.NoError(t, err)
	require.Len(t, batches, 1)
	batch := batches[0]
	require.Equal(t, "B20261204-160000", batch.ID)
	require.Equal(t, "handed", batch.State)
	require.Equal(t, 3, batch.Letters)

	// The print house holds the batch: PDFs per postage class, manifests, checksums.
	in := filepath.Join(b.house.Dir, "in", batch.ID)
	names, _ := filepath.Glob(filepath.Join(in, "*"))
	var base []string
	for _, n := range names {
		base = append(base, filepath.Base(n))
	}
	require.ElementsMatch(t, []string{"B20261204-160000-lettre_prioritaire-001.pdf", "B20261204-160000-lettre_verte-001.pdf",
		"SHA256SUMS", "manifest.csv", "manifest.json"}, base)
	f, err := os.Open(filepath.Join(in, "manifest.csv"))
	require.NoError(t, err)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	require.Len(t, recs, 4)
	pagesByFile := map[string]int{}
	for _, r := range recs[1:] {
		pages, _ := strconv.Atoi(r[4])
		sheets, _ := strconv.Atoi(r[5])
		require.Equal(t, (pages+1)/2, sheets)
		pagesByFile[r[6]] += sheets * 2 // printed two-sided: blank backs keep letters on their own sheets
	}
	for file, want := range pagesByFile {
		require.Equal(t, want, pdfPages(t, filepath.Join(in, file)), file)
	}
	var manifest struct {
		Totals struct{ Letters, Pages, Sheets int }
		Files  []struct{ Name, SHA256 string }
	}
	raw, err := os.ReadFile(filepath.Join(in, "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &manifest))
	require.Equal(t, 3, manifest.Totals.Letters)
	cmd := exec.Command("sha256sum", "-c", "SHA256SUMS")
	cmd.Dir = in
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))

	// The merged PDF carries the letters' text.
	text, err := exec.Command("pdftotext", "-layout", filepath.Join(in, "B20261204-160000-lettre_prioritaire-001.pdf"), "-").Output()
	require.NoError(t, err)
	require.Contains(t, string(text), "97400 SAINT DENIS")
	require.Contains(t, string(text), "Lefèvre-Œuvray")

	for _, id := range ids {
		n, err := notices.Get(ctx, b.pool, id)
		require.NoError(t, err)
		require.Equal(t, notices.StateDelivered, n.State)
		require.Equal(t, []string{"notice_created", "sending", "sent", letters.EventQueued, letters.EventHanded, "delivered"}, letterEvents(t, b, id))
	}
	// Evidence: hash, batch, and the PDF reproduces byte for byte.
	facts, err := letters.Evidence(ctx, b.pool, ids[0])
	require.NoError(t, err)
	require.Len(t, facts, 1)
	require.Equal(t, batch.ID, facts[0].BatchID)
	require.Len(t, facts[0].PDFSHA256, 64)
	_, same, err := letters.ReproducePDF(ctx, b.pool, facts[0].DeliveryID)
	require.NoError(t, err)
	require.True(t, same, "reproduced PDF differs from the recorded hash")

	// Receipts: an acknowledgement file, the same file again, and a
	// receipt for a letter that does not exist.
	l0, l1 := facts[0].Letter, letters.Ref(facts[0].DeliveryID+1)
	ack := "batch_id,letter_id,status,date\n" +
		batch.ID + "," + l0 + ",printed,2026-12-07\n" +
		batch.ID + "," + l0 + ",posted,2026-12-07\n" +
		batch.ID + "," + l1 + ",posted,2026-12-07\n" +
		batch.ID + ",L999999,posted,2026-12-07\n"
	out1 := filepath.Join(b.house.Dir, "out")
	require.NoError(t, os.MkdirAll(out1, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out1, "ack-1.csv"), []byte(ack), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out1, "ack-1-copy.csv"), []byte(ack), 0o644))
	results, err := PollLetterReceipts(ctx, b.pool, b.client, b.house)
	require.NoError(t, err)
	require.Len(t, results, 2)
	require.True(t, results[0].Duplicate != results[1].Duplicate, "exactly one copy is a duplicate: %+v", results)
	first := results[0]
	if first.Duplicate {
		first = results[1]
	}
	require.Equal(t, 3, first.Applied)
	require.Equal(t, []string{"L999999"}, first.Unknown)
	require.Equal(t, []string{"notice_created", "sending", "sent", letters.EventQueued, letters.EventHanded, "delivered", "printed", "posted"}, letterEvents(t, b, ids[0]))
	left, _ := filepath.Glob(filepath.Join(out1, "*.csv"))
	require.Empty(t, left, "receipt files are archived")

	// The yearly-notice report counts the letter (print_handed is its proof)
	// once the ledger is sealed: reports read sealed events only.
	priv, _, err := ledger.GenerateKey("courrier-test")
	require.NoError(t, err)
	key, err := ledger.ParseKey(priv)
	require.NoError(t, err)
	_, err = ledger.Seal(ctx, b.pool, ledger.SealOptions{Key: key, Settle: time.Nanosecond})
	require.NoError(t, err)
	period := compliance.Period{From: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 11, 0, 0, 0, 0, time.UTC),
		AsOf: time.Date(2026, 12, 11, 0, 0, 0, 0, time.UTC)}
	rep, err := compliance.Run(ctx, b.pool, compliance.RuleYearlyNotice, period)
	require.NoError(t, err)
	require.NotContains(t, rep.Refs("not_covered"), "2000000")

	// Returned mail: the address becomes undeliverable, the notice is re-routed
	// and, with no other channel, ends not reached.
	ret := "letter_id,date,reason\n" + l0 + ",2026-12-10,NPAI\nL999999,2026-12-10,NPAI\n"
	require.NoError(t, os.WriteFile(filepath.Join(out1, "returned-1.csv"), []byte(ret), 0o644))
	results, err = PollLetterReceipts(ctx, b.pool, b.client, b.house)
	require.NoError(t, err)
	require.Equal(t, 1, results[0].Applied)
	require.Equal(t, []string{"L999999"}, results[0].Unknown)
	var rid int64
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT recipient_id FROM notices WHERE id = $1`, ids[0]).Scan(&rid))
	r, err := recipients.Get(ctx, b.pool, rid)
	require.NoError(t, err)
	require.Equal(t, "undeliverable", r.AddressStatus)
	require.Equal(t, 1, countJobsFor(t, b, ids[0]))
	require.NoError(t, b.deps.deliver(ctx, ids[0], false))
	n, err := notices.Get(ctx, b.pool, ids[0])
	require.NoError(t, err)
	require.Equal(t, notices.StateNoRoute, n.State)
	require.Contains(t, n.StateReason, "letter: postal address undeliverable")
	require.Nil(t, n.DeliveredAt)
	_, err = ledger.Seal(ctx, b.pool, ledger.SealOptions{Key: key, Settle: time.Nanosecond})
	require.NoError(t, err)
	rep, err = compliance.Run(ctx, b.pool, compliance.RuleYearlyNotice, period)
	require.NoError(t, err)
	require.Contains(t, rep.Refs("not_covered"), "2000000", "a returned letter does not cover the beneficiary")

	// The API path records the same return only once.
	res, err := RecordReturnedLetters(ctx, b.pool, b.client, []letters.ReturnRow{{Letter: l0, Date: b.now, Reason: "NPAI"}})
	require.NoError(t, err)
	require.Equal(t, 0, res.Applied)
	require.Equal(t, 1, res.Stale)
	_, err = RecordReturnedLetters(ctx, b.pool, b.client, []letters.ReturnRow{{Letter: l0, Date: b.now, Reason: "PERDU"}})
	require.ErrorContains(t, err, "returns[0]: reason")
}

func countJobsFor(t *testing.T, b *letterBundle, noticeID int64) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'deliver' AND (args->>'notice_id')::bigint = $1 AND state = 'available'`, noticeID).Scan(&n))
	return n - 1 // the job of the first delivery was never worked here
}

// TestLetterCutoffJob works the periodic cut-off job: a letter queued on
// Friday after 16:00 goes with Monday's batch; the receipts job reads an
// empty out/ directory.
func TestLetterCutoffJob(t *testing.T) {
	t.Parallel()
	b := setupLetters(t)
	ctx := context.Background()
	b.now = time.Date(2026, 12, 4, 15, 30, 0, 0, time.UTC)
	rid := b.recipient(t, "2000100", postOnly)
	id, _ := b.enqueue(t, rightsNotice(rid, "k-job"))
	require.NoError(t, b.deps.deliver(ctx, id, false))
	b.now = time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC) // Monday, after its cut-off
	worker := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, &LetterCutoffWorker{Cfg: b.cfg})
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = worker.Work(ctx, t, tx, LetterCutoffArgs{}, nil)
	require.NoError(t, err)
	bs, err := letters.Batches(ctx, b.pool, 10)
	require.NoError(t, err)
	require.Len(t, bs, 1)
	require.Equal(t, "B20261207-160000", bs[0].ID, "Monday's cut-off, Paris time")
	require.Equal(t, 1, bs[0].Receipts["handed"])
	rworker := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, &LetterReceiptsWorker{Cfg: b.cfg})
	_, err = rworker.Work(ctx, t, tx, LetterReceiptsArgs{}, nil)
	require.NoError(t, err)
}

// failingHouse fails its first Put after uploading half the files, as a
// crash or a dropped connection would.
type failingHouse struct {
	*letters.DropDir
	fails int
}

func (h *failingHouse) Put(ctx context.Context, batchID string, files []string) error {
	if h.fails > 0 {
		h.fails--
		_ = h.DropDir.Put(ctx, batchID, files[:len(files)/2])
		return fmt.Errorf("connection reset")
	}
	return h.DropDir.Put(ctx, batchID, files)
}

// TestBatchHandoverResumes: a handover that fails leaves the batch built and
// its letters batched (print_queued, not print_handed); the next run hands
// the same batch, whole, once, and makes no second batch.
func TestBatchHandoverResumes(t *testing.T) {
	t.Parallel()
	b := setupLetters(t)
	ctx := context.Background()
	house := &failingHouse{DropDir: b.house, fails: 1}
	b.cfg.Batch.House = house
	b.now = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	var ids []int64
	for i := range 2 {
		rid := b.recipient(t, fmt.Sprintf("200020%d", i), postOnly)
		id, _ := b.enqueue(t, rightsNotice(rid, fmt.Sprintf("k-resume-%d", i)))
		require.NoError(t, b.deps.deliver(ctx, id, false))
		ids = append(ids, id)
	}
	cutoff := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	_, _, err := RunLetterCutoff(ctx, b.cfg, b.client, cutoff)
	require.ErrorContains(t, err, "connection reset")
	bs, err := letters.Batches(ctx, b.pool, 10)
	require.NoError(t, err)
	require.Len(t, bs, 1)
	require.Equal(t, "built", bs[0].State)
	require.Equal(t, 2, bs[0].Receipts["batched"])
	require.NotContains(t, letterEvents(t, b, ids[0]), letters.EventHanded)

	b.now = b.now.Add(time.Hour)
	batches, _, err := RunLetterCutoff(ctx, b.cfg, b.client, cutoff)
	require.NoError(t, err)
	require.Len(t, batches, 1)
	require.Equal(t, bs[0].ID, batches[0].ID)
	require.Equal(t, "handed", batches[0].State)
	bs, err = letters.Batches(ctx, b.pool, 10)
	require.NoError(t, err)
	require.Len(t, bs, 1, "no second batch")
	cmd := exec.Command("sha256sum", "-c", "SHA256SUMS")
	cmd.Dir = filepath.Join(b.house.Dir, "in", bs[0].ID)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	leftovers, _ := filepath.Glob(filepath.Join(cmd.Dir, "*.part"))
	require.Empty(t, leftovers)
	for _, id := range ids {
		evs := letterEvents(t, b, id)
		n := 0
		for _, e := range evs {
			if e == letters.EventHanded {
				n++
			}
		}
		require.Equal(t, 1, n, "one print_handed per letter: %v", evs)
	}
}
