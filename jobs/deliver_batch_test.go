package jobs

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
)

func TestPrefixedColumns(t *testing.T) {
	t.Parallel()
	require.Equal(t, "n.id, coalesce(n.email, ''), n.state", prefixed("n.", "id, coalesce(email, ''),\n\tstate"))
}

func TestDeliverBatchEachNoticeKeepsItsOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Email fails permanently for one address: that notice leaves the batch
	// for a single job, which will fall back to a letter.
	email := &scriptedByAddress{fail: map[string]error{
		"refuse@exemple.fr": &channels.Error{Class: channels.Permanent, Code: "550", AddressRejected: true},
	}, inner: b.outbox}
	b.deps.Channels[channels.Email] = email

	var ids []int64
	for i, mutate := range []func(r *recipients.Recipient){
		nil,
		func(r *recipients.Recipient) { r.Email = "refuse@exemple.fr" },
		func(r *recipients.Recipient) { r.Email, r.AddressLine1 = "", "" }, // no route for a general mailing
		nil,
	} {
		rid := b.recipient(t, "B"+string(rune('0'+i)), mutate)
		id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.GeneralInformation,
			IdempotencyKey: "batch:" + string(rune('0'+i)), Data: templates.SampleData(string(notices.GeneralInformation))})
		ids = append(ids, id)
	}
	// A notice already delivered in the batch is left alone.
	require.NoError(t, b.deps.deliver(ctx, ids[3], false))

	spill, err := b.deps.deliverBatch(ctx, ids)
	require.NoError(t, err)
	require.Len(t, spill, 1)
	require.Equal(t, DeliverArgs{NoticeID: ids[1]}, spill[0].Args)

	states := map[int64]string{}
	for _, id := range ids {
		n, err := notices.Get(ctx, b.pool, id)
		require.NoError(t, err)
		states[id] = n.State
	}
	require.Equal(t, notices.StateDelivered, states[ids[0]])
	require.Equal(t, notices.StatePending, states[ids[1]])
	require.Equal(t, notices.StateNoRoute, states[ids[2]])
	require.Equal(t, notices.StateDelivered, states[ids[3]])

	dls, err := ledger.DeliveriesForNotice(ctx, b.pool, ids[1])
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, ledger.StateFailed, dls[0].State)
	r, err := recipients.GetByRef(ctx, b.pool, "B1")
	require.NoError(t, err)
	require.Equal(t, "undeliverable", r.EmailStatus)

	// The spilled notice's own job falls back to a letter.
	require.NoError(t, b.deps.deliver(ctx, ids[1], false))
	n, _ := notices.Get(ctx, b.pool, ids[1])
	require.Equal(t, notices.StateDelivered, n.State)
	require.Equal(t, "letter", n.Channel)

	events, err := ledger.EventsForNotice(ctx, b.pool, ids[0])
	require.NoError(t, err)
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Event)
	}
	require.Equal(t, []string{"notice_created", "sending", "delivered"}, kinds)
	files, _ := filepath.Glob(filepath.Join(b.outbox.Dir, "email", "*.eml"))
	require.Len(t, files, 2, "notices 0 and 3 by email")

	// A batch keeps only the content's hash; an evidence pack renders the
	// message again from its template version and data, and proves it.
	var stored *string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT content::text FROM deliveries WHERE notice_id = $1`, ids[0]).Scan(&stored))
	require.Nil(t, stored)
	priv, _, err := ledger.GenerateKey("courrier-test")
	require.NoError(t, err)
	key, err := ledger.ParseKey(priv)
	require.NoError(t, err)
	_, err = ledger.Seal(ctx, b.pool, ledger.SealOptions{Key: key, Settle: time.Nanosecond})
	require.NoError(t, err)
	pack, err := compliance.Packer{DB: b.pool, Key: key}.ForRecipient(ctx, "B0")
	require.NoError(t, err)
	d := pack.Notices[0].Deliveries[0]
	require.True(t, d.Reproduced)
	require.Contains(t, d.Content.HTML, `lang="fr"`)
	_, err = compliance.VerifyPack(pack, key.Verifier, nil)
	require.NoError(t, err)

	// Working the batch again sends nothing more.
	spill, err = b.deps.deliverBatch(ctx, ids)
	require.NoError(t, err)
	require.Len(t, spill, 0)
	files, _ = filepath.Glob(filepath.Join(b.outbox.Dir, "email", "*.eml"))
	require.Len(t, files, 2)
}

// scriptedByAddress fails the addresses in fail and hands the rest to inner.
type scriptedByAddress struct {
	fail  map[string]error
	inner channels.Channel
}

func (s *scriptedByAddress) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	if err := s.fail[msg.To]; err != nil {
		return channels.Receipt{}, err
	}
	return s.inner.Send(ctx, msg)
}
