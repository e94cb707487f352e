package compliance_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/ledger"
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

// seal makes every event old enough and seals the ledger.
func (f *fx) seal() {
	f.t.Helper()
	conn, err := f.pool.Acquire(f.ctx)
	require.NoError(f.t, err)
	_, err = conn.Exec(f.ctx, `SET session_replication_role = replica;
		UPDATE delivery_events SET recorded_at = recorded_at - interval '1 minute';
		SET session_replication_role = origin`)
	conn.Release()
	require.NoError(f.t, err)
	_, err = ledger.Seal(f.ctx, f.pool, 2)
	require.NoError(f.t, err)
}

func roundTrip(t *testing.T, pack *compliance.Pack) *compliance.Pack {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, compliance.WritePack(&buf, pack, compliance.FormatJSON))
	back, err := compliance.ReadPack(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	return back
}

func TestEvidencePackRoundTrip(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.recipient("0123456", paris(2020, 1, 1, 0, 0, 0))
	other := f.recipient("0999999", paris(2020, 1, 1, 0, 0, 0))
	f.sendThroughLedger(r, "rights_opened", "email", "smtp", "claire.martin@example.fr", paris(2028, 3, 1, 9, 0, 0))
	f.sendThroughLedger(other, "rights_opened", "email", "smtp", "paul@example.org", paris(2028, 3, 1, 9, 0, 0))
	f.sendThroughLedger(r, "yearly_statement", "sms", "twilio", "+33612345678", paris(2028, 9, 1, 9, 0, 0))
	f.seal()
	// An event recorded after the last seal is exported, unproven.
	f.sendThroughLedger(r, "general_information", "letter", "print", "12 rue des Lilas 75011 Paris", paris(2028, 10, 1, 9, 0, 0))

	pack, err := compliance.ForRecipient(f.ctx, f.pool, "0123456")
	require.NoError(t, err)
	require.Len(t, pack.Notices, 3)
	back := roundTrip(t, pack)
	check, err := compliance.CheckPack(back)
	require.NoError(t, err)
	require.Equal(t, 4, check.EventsVerified)
	require.Equal(t, 2, check.EventsUnsealed)
	require.Equal(t, 3, check.ContentVerified)
	require.Positive(t, check.SealHeadsLinked)

	d := back.Notices[0].Deliveries[0]
	require.Equal(t, "c*****@e*****.fr", d.Address)
	require.Equal(t, "+33 6 ** ** ** 78", back.Notices[1].Deliveries[0].Address)
	require.Equal(t, "1* r* d* L* 75011 P*", back.Notices[2].Deliveries[0].Address)
	require.Equal(t, "Vos droits <changent>", d.Content.Subject)
	require.NotEmpty(t, d.ProviderMessageID)
	require.Len(t, d.TemplateVersion, 64)
	var buf bytes.Buffer
	require.NoError(t, compliance.WritePack(&buf, pack, compliance.FormatJSON))
	require.NotContains(t, buf.String(), "claire.martin")
	require.NotContains(t, buf.String(), "Martin")
	require.NotContains(t, buf.String(), "0999999")

	// Tampering with any proven field is caught from the pack alone.
	tampered := roundTrip(t, pack)
	tampered.Notices[0].Events[1].OccurredAt = tampered.Notices[0].Events[1].OccurredAt.Add(-24 * time.Hour)
	require.ErrorIs(t, compliance.VerifyPack(tampered), compliance.ErrPackInvalid)

	tampered = roundTrip(t, pack)
	tampered.Notices[0].Deliveries[0].Content.Text = "Autre texte"
	require.ErrorIs(t, compliance.VerifyPack(tampered), compliance.ErrPackInvalid)

	tampered = roundTrip(t, pack)
	tampered.Notices[1].Events[0].Detail = "attempt 1 via print"
	require.ErrorIs(t, compliance.VerifyPack(tampered), compliance.ErrPackInvalid)

	tampered = roundTrip(t, pack)
	tampered.Notices[0].Events[0].Hash = tampered.Notices[0].Events[1].Hash
	require.ErrorIs(t, compliance.VerifyPack(tampered), compliance.ErrPackInvalid)

	// After a retention purge only hashes remain, and the pack still verifies.
	_, err = ledger.Purge(f.ctx, f.pool, paris(2030, 1, 1, 0, 0, 0))
	require.NoError(t, err)
	pack, err = compliance.ForRecipient(f.ctx, f.pool, "0123456")
	require.NoError(t, err)
	check, err = compliance.CheckPack(roundTrip(t, pack))
	require.NoError(t, err)
	require.Equal(t, 3, check.ContentPurged)
	require.Equal(t, "", pack.Notices[0].Deliveries[0].Address)
	require.NotEmpty(t, pack.Notices[0].Deliveries[0].ContentHash)

	var csvBuf bytes.Buffer
	require.NoError(t, compliance.WritePack(&csvBuf, pack, compliance.FormatCSV))
	require.Contains(t, csvBuf.String(), "notice_id,recipient,kind")

	_, err = compliance.ForRecipient(f.ctx, f.pool, "nobody")
	require.ErrorIs(t, err, compliance.ErrInvalid)
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
	pack, err := compliance.ForRule(f.ctx, f.pool, compliance.RuleAnswer15d, p)
	require.NoError(t, err)
	require.Len(t, pack.Notices, 1)
	require.Equal(t, "P1", pack.Notices[0].Recipient)
	require.Equal(t, "request_answer", pack.Notices[0].Kind)
	require.NoError(t, compliance.VerifyPack(roundTrip(t, pack)))

	for _, rule := range compliance.RuleNames() {
		pack, err := compliance.ForRule(f.ctx, f.pool, rule, p)
		require.NoError(t, err, rule)
		require.NoError(t, compliance.VerifyPack(roundTrip(t, pack)), rule)
	}
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
