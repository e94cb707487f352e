package compliance_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/internal/tsatest"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/ledger/rfc3161"
)

// sendThroughLedger delivers a notice the way the deliver worker does.
func (f *fx) sendThroughLedger(recipient int64, kind, channel, provider, address string, at time.Time) int64 {
	f.t.Helper()
	var nid int64
	require.NoError(f.t, f.pool.QueryRow(f.ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, created_at)
		VALUES ($1, $2, $2, $3, $4) RETURNING id`, recipient, kind, fmt.Sprintf("ev-%d", seq.Add(1)), at).Scan(&nid))
	tx, err := f.pool.Begin(f.ctx)
	require.NoError(f.t, err)
	did, _, err := ledger.StartAttempt(f.ctx, tx, ledger.Attempt{NoticeID: nid, Channel: channel, Provider: provider, Address: address,
		TemplateVersion: "5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		Content:         ledger.Content{Subject: "Vos droits <changent>", Text: "Bonjour, vos droits & devoirs."}, At: at})
	require.NoError(f.t, err)
	_, err = ledger.Accepted(f.ctx, tx, did, nid, fmt.Sprintf("SM%d", nid), true, "smtp_accepted", at.Add(time.Second))
	require.NoError(f.t, err)
	_, err = tx.Exec(f.ctx, `UPDATE notices SET state = 'delivered', delivered_at = $2 WHERE id = $1`, nid, at.Add(time.Second))
	require.NoError(f.t, err)
	require.NoError(f.t, tx.Commit(f.ctx))
	return nid
}

func roundTrip(t *testing.T, pack *compliance.Pack) *compliance.Pack {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, compliance.WritePack(&buf, pack, compliance.FormatJSON))
	back, err := compliance.ReadPack(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	return back
}

func verifyPack(t *testing.T, pack *compliance.Pack) (*compliance.PackCheck, error) {
	t.Helper()
	return compliance.VerifyPack(roundTrip(t, pack), testKey.Verifier, nil)
}

// requirePackRejected asserts that the pack fails verification with a
// message containing every one of words.
func requirePackRejected(t *testing.T, pack *compliance.Pack, words ...string) {
	t.Helper()
	_, err := verifyPack(t, pack)
	require.ErrorIs(t, err, compliance.ErrPackInvalid)
	for _, w := range words {
		require.Contains(t, err.Error(), w)
	}
}

func packFixture(t *testing.T) (*fx, *compliance.Pack) {
	t.Helper()
	f := setup(t)
	r := f.recipient("0123456", paris(2020, 1, 1, 0, 0, 0))
	other := f.recipient("0999999", paris(2020, 1, 1, 0, 0, 0))
	f.sendThroughLedger(r, "rights_opened", "email", "smtp", "claire.martin@example.fr", paris(2028, 3, 1, 9, 0, 0))
	f.sendThroughLedger(other, "rights_opened", "email", "smtp", "paul@example.org", paris(2028, 3, 1, 9, 0, 0))
	f.sendThroughLedger(r, "yearly_statement", "sms", "twilio", "+33612345678", paris(2028, 9, 1, 9, 0, 0))
	f.sendThroughLedger(r, "general_information", "letter", "print", "12 rue des Lilas 75011 Paris", paris(2028, 10, 1, 9, 0, 0))
	f.seal()
	// An event recorded after the last seal is not in the pack.
	require.NoError(t, ledger.AppendEvent(f.ctx, f.pool, ledger.Event{NoticeID: firstNoticeOf(t, f, "0123456"), Event: "note", Detail: "later"}))
	pack, err := compliance.Packer{DB: f.pool, Key: testKey}.ForRecipient(f.ctx, "0123456")
	require.NoError(t, err)
	return f, pack
}

func firstNoticeOf(t *testing.T, f *fx, ref string) int64 {
	var id int64
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT min(n.id) FROM notices n JOIN recipients r ON r.id = n.recipient_id WHERE r.ref = $1`, ref).Scan(&id))
	return id
}

func TestEvidencePackRoundTrip(t *testing.T) {
	t.Parallel()
	f, pack := packFixture(t)
	require.Len(t, pack.Notices, 3)
	check, err := verifyPack(t, pack)
	require.NoError(t, err)
	require.Equal(t, 3, check.Notices)
	require.Equal(t, 9, check.EventsVerified) // created, sending, delivered for each
	require.Equal(t, 1, check.Unsealed)
	require.Equal(t, 3, check.ContentVerified)

	d := pack.Notices[0].Deliveries[0]
	require.Equal(t, "c*****@e*****.fr", d.AddressMasked)
	require.Equal(t, "+33 6 ** ** ** 78", pack.Notices[1].Deliveries[0].AddressMasked)
	require.Equal(t, "1* r* d* L* 75011 P*", pack.Notices[2].Deliveries[0].AddressMasked)
	require.Equal(t, "Vos droits <changent>", d.Content.Subject)
	require.NotEmpty(t, d.ProviderMessageID)
	require.Len(t, d.TemplateVersion, 64)
	require.Equal(t, "smtp_accepted", pack.Notices[0].Evidence)
	require.NotNil(t, pack.Notices[0].DeliveredAt)
	var buf bytes.Buffer
	require.NoError(t, compliance.WritePack(&buf, pack, compliance.FormatJSON))
	require.NotContains(t, buf.String(), "claire.martin")
	require.NotContains(t, buf.String(), "Martin")
	require.NotContains(t, buf.String(), "0999999")

	// After a retention purge only hashes remain, and the pack still verifies.
	_, err = ledger.Purge(f.ctx, f.pool, paris(2030, 1, 1, 0, 0, 0))
	require.NoError(t, err)
	pack, err = compliance.Packer{DB: f.pool, Key: testKey}.ForRecipient(f.ctx, "0123456")
	require.NoError(t, err)
	check, err = verifyPack(t, pack)
	require.NoError(t, err)
	require.Equal(t, 3, check.ContentPurged)
	require.Equal(t, "c*****@e*****.fr", pack.Notices[0].Deliveries[0].AddressMasked)

	var csvBuf bytes.Buffer
	require.NoError(t, compliance.WritePack(&csvBuf, pack, compliance.FormatCSV))
	require.Contains(t, csvBuf.String(), "notice_id,recipient,caf,kind")

	_, err = compliance.Packer{DB: f.pool, Key: testKey}.ForRecipient(f.ctx, "nobody")
	require.ErrorIs(t, err, compliance.ErrInvalid)
}

// The tamper suite, pack side: each edit of issue 15, and the message
// `courrier verify --pack` gives for it.
func TestPackTamperTextWithRecomputedHash(t *testing.T) {
	t.Parallel()
	_, pack := packFixture(t)
	d := &pack.Notices[0].Deliveries[0]
	d.Content.Text = "Vos droits sont supprimés."
	d.ContentHash = d.Content.Hash() // recomputed as the format documents
	requirePackRejected(t, pack, "notice", "content_hash shown as", "the sealed events say")
}

func TestPackTamperTextOnly(t *testing.T) {
	t.Parallel()
	_, pack := packFixture(t)
	pack.Notices[0].Deliveries[0].Content.Text = "Autre texte"
	requirePackRejected(t, pack, "not to the sealed content hash", "text altered")
}

func TestPackTamperDeliveredAt(t *testing.T) {
	t.Parallel()
	_, pack := packFixture(t)
	earlier := pack.Notices[0].DeliveredAt.Add(-72 * time.Hour)
	pack.Notices[0].DeliveredAt = &earlier
	requirePackRejected(t, pack, "delivered_at shown as")
}

func TestPackTamperKind(t *testing.T) {
	t.Parallel()
	_, pack := packFixture(t)
	pack.Notices[0].Kind = "yearly_statement"
	requirePackRejected(t, pack, `kind shown as "yearly_statement"`, `"rights_opened"`)
}

func TestPackTamperAddressMask(t *testing.T) {
	t.Parallel()
	_, pack := packFixture(t)
	pack.Notices[1].Deliveries[0].AddressMasked = "+33 6 ** ** ** 99"
	requirePackRejected(t, pack, "address_masked shown as")
}

func TestPackTamperEventEncoding(t *testing.T) {
	t.Parallel()
	_, pack := packFixture(t)
	ev := &pack.Notices[0].Events[2]
	e, err := ledger.DecodeEvent([]byte(ev.Encoding))
	require.NoError(t, err)
	e.OccurredAt = e.OccurredAt.Add(-72 * time.Hour)
	ev.Encoding = string(ledger.EncodeEvent(e))
	requirePackRejected(t, pack, "delivered event", "is not in the signed tree")
}

func TestPackTamperEventRemoved(t *testing.T) {
	t.Parallel()
	_, pack := packFixture(t)
	pack.Notices[0].Events = pack.Notices[0].Events[:2] // drop the delivered event
	requirePackRejected(t, pack, "was removed from the pack")
}

func TestPackTamperNoticeRemoved(t *testing.T) {
	t.Parallel()
	_, pack := packFixture(t)
	pack.Notices = pack.Notices[1:]
	requirePackRejected(t, pack, "of the signed manifest was removed from the pack")
}

func TestPackTamperCheckpointSignedWithAnotherKey(t *testing.T) {
	t.Parallel()
	_, pack := packFixture(t)
	cp, err := ledger.OpenCheckpoint(pack.Checkpoint.Note, testKey.Verifier)
	require.NoError(t, err)
	pack.Checkpoint.Note, err = ledger.SignCheckpoint(otherKey, cp.Size, cp.RootHash)
	require.NoError(t, err)
	requirePackRejected(t, pack, "checkpoint is not signed by the ledger key")
	// Verifying with the attacker's key instead fails on the manifest.
	_, err = compliance.VerifyPack(roundTrip(t, pack), otherKey.Verifier, nil)
	require.ErrorContains(t, err, "manifest is not signed by the ledger key")
}

// A timestamp token taken for another checkpoint does not vouch for this one.
func TestPackTamperTimestampTokenOfAnotherCheckpoint(t *testing.T) {
	t.Parallel()
	url, roots := tsatest.Start(t)
	f := setup(t)
	r := f.recipient("0123456", paris(2020, 1, 1, 0, 0, 0))
	f.sendThroughLedger(r, "rights_opened", "email", "smtp", "claire.martin@example.fr", paris(2028, 3, 1, 9, 0, 0))
	tsa := &rfc3161.Client{URL: url}
	_, err := ledger.Seal(f.ctx, f.pool, ledger.SealOptions{Key: testKey, TSA: tsa, Settle: time.Nanosecond})
	require.NoError(t, err)
	pack, err := compliance.Packer{DB: f.pool, Key: testKey}.ForRecipient(f.ctx, "0123456")
	require.NoError(t, err)
	require.NotEmpty(t, pack.Checkpoint.TSAToken)
	opts := &compliance.VerifyPackOptions{TSA: &rfc3161.Verifier{Roots: roots}}
	check, err := compliance.VerifyPack(roundTrip(t, pack), testKey.Verifier, opts)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), check.TimestampedAt, 10*time.Minute)

	other, err := tsa.Timestamp(f.ctx, []byte("courrier-ledger\n1\nAAAA\n"))
	require.NoError(t, err)
	pack.Checkpoint.TSAToken = other
	_, err = compliance.VerifyPack(roundTrip(t, pack), testKey.Verifier, opts)
	require.ErrorIs(t, err, compliance.ErrPackInvalid)
	require.ErrorContains(t, err, "checkpoint timestamp: the timestamp token is for other data")
}

func TestEvidencePackForRule(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rec := paris(2028, 4, 3, 9, 0, 0)
	f.request(req{ref: "P1", received: rec, ack: ptr(rec.Add(time.Hour)), answer: ptr(rec.Add(48 * time.Hour))})
	f.request(req{ref: "P2", received: rec.AddDate(0, 1, 0), ack: ptr(rec.AddDate(0, 1, 1))})
	f.seal()
	p, err := compliance.ParsePeriod("2028-04-01", "2028-04-30")
	require.NoError(t, err)
	pk := compliance.Packer{DB: f.pool, Key: testKey}
	pack, err := pk.ForRule(f.ctx, compliance.RuleAnswer15d, p)
	require.NoError(t, err)
	require.Len(t, pack.Notices, 1)
	require.Equal(t, "P1", pack.Notices[0].Recipient)
	require.Equal(t, "request_answer", pack.Notices[0].Kind)
	_, err = verifyPack(t, pack)
	require.NoError(t, err)

	for _, rule := range compliance.RuleNames() {
		pack, err := pk.ForRule(f.ctx, rule, p)
		require.NoError(t, err, rule)
		_, err = verifyPack(t, pack)
		require.NoError(t, err, rule)
	}
	// The scope is signed: widening it afterwards is caught.
	pack.Scope.To = "2028-12-31"
	requirePackRejected(t, pack, "is not the manifest's")
}

// A plain UPDATE of notices.delivered_at (issue 15's first attack) changes
// no report: reports read what the sealed events establish.
func TestReportIgnoresEditedNotices(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rec := paris(2028, 4, 3, 9, 0, 0)
	f.request(req{ref: "A1", received: rec, ack: ptr(rec.AddDate(0, 0, 6))})
	f.request(req{ref: "A2", received: rec, ack: ptr(rec.AddDate(0, 0, 7))})
	before := f.run(compliance.RuleAcknowledgement, "2028-04-01", "2028-04-30", paris(2028, 6, 1, 0, 0, 0))
	require.EqualValues(t, 2, metric(t, before, "late"))
	_, err := f.pool.Exec(f.ctx, `UPDATE notices SET delivered_at = $1 WHERE kind = 'request_acknowledgement'`, rec.Add(time.Hour))
	require.NoError(t, err)
	_, err = f.pool.Exec(f.ctx, `UPDATE requests SET received_at = received_at + interval '5 days'`)
	require.NoError(t, err)
	after := f.run(compliance.RuleAcknowledgement, "2028-04-01", "2028-04-30", paris(2028, 6, 1, 0, 0, 0))
	require.EqualValues(t, 2, metric(t, after, "late"))
	require.EqualValues(t, 0, metric(t, after, "in_time"))
}

// Weak evidence (relay accepted) is shown but not counted unless accepted.
func TestReportCountsProvenEvidenceOnly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rec := paris(2028, 4, 3, 9, 0, 0)
	f.request(req{ref: "W1", received: rec, ack: ptr(rec.Add(time.Hour))}) // ack by smtp: weak
	f.seal()
	p, err := compliance.ParsePeriod("2028-04-01", "2028-04-30")
	require.NoError(t, err)
	p.AsOf = paris(2028, 6, 1, 0, 0, 0)
	strict, err := compliance.Run(f.ctx, f.pool, compliance.RuleAcknowledgement, p)
	require.NoError(t, err)
	require.False(t, strict.Pass)
	require.EqualValues(t, 1, metric(t, strict, "overdue"))
	p.Accept = append(compliance.DefaultAccepted(), compliance.EvidenceSMTPAccepted)
	lenient, err := compliance.Run(f.ctx, f.pool, compliance.RuleAcknowledgement, p)
	require.NoError(t, err)
	require.True(t, lenient.Pass)
	require.Equal(t, []compliance.EvidenceCount{{Level: compliance.EvidenceSMTPAccepted, Count: 1}}, lenient.Evidence)
}

func TestMaskAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ channel, in, want string }{
		{"email", "claire.martin@example.fr", "c*****@e*****.fr"},
		{"email", "élodie@caf.gouv.fr", "é*****@c*****.fr"},
		{"sms", "+33612345678", "+33 6 ** ** ** 78"},
		{"sms", "+262692123456", "+262*******56"},
		{"letter", "Mme Claire Martin, 3 place Bellecour 69002 Lyon", "M* C* M* 3* p* B* 69002 L*"},
		{"email", "", ""},
	} {
		require.Equal(t, c.want, compliance.MaskAddress(c.channel, c.in), c.in)
	}
}
