package jobs

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/templates"
)

// relayLike accepts every message as an SMTP relay does: a message id, the
// relay's reply as evidence, delivered on acceptance.
type relayLike struct{ n atomic.Int64 }

func (r *relayLike) Send(context.Context, channels.Message) (channels.Receipt, error) {
	i := r.n.Add(1)
	reply := fmt.Sprintf("250 2.0.0 Ok: queued as Q%d for lea.dupre@exemple.fr", i)
	return channels.Receipt{MessageID: fmt.Sprintf("<m%d@relay>", i), Delivered: true,
		Evidence: "smtp_accepted: " + reply, RelayReply: reply}, nil
}

func (r *relayLike) Provider() string { return "relay-test" }

// TestDeliverBatchRecordsAcceptancesInOneCall checks what the group commit
// (courrier_accept_many) writes for each acceptance of a batch: the
// delivery row (state, message id, relay reply), one delivered event whose
// facts are ledger.acceptFacts' with the address redacted, and the notice
// delivered. Several batches at once share the group commit.
func TestDeliverBatchRecordsAcceptancesInOneCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.deps.Channels[channels.Email] = &relayLike{}
	var batches [3][]int64
	for i := range 12 {
		rid := b.recipient(t, fmt.Sprintf("R%02d", i), nil)
		id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.GeneralInformation,
			IdempotencyKey: fmt.Sprintf("group:%d", i), Data: templates.SampleData(string(notices.GeneralInformation))})
		batches[i%3] = append(batches[i%3], id)
	}
	errs := make(chan error, len(batches))
	for _, ids := range batches {
		go func() {
			_, err := b.deps.deliverBatch(ctx, ids)
			errs <- err
		}()
	}
	for range batches {
		require.NoError(t, <-errs)
	}
	for _, ids := range batches {
		for _, id := range ids {
			n, err := notices.Get(ctx, b.pool, id)
			require.NoError(t, err)
			require.Equal(t, notices.StateDelivered, n.State)
			require.Equal(t, "email", n.Channel)
			require.NotNil(t, n.DeliveredAt)

			dls, err := ledger.DeliveriesForNotice(ctx, b.pool, id)
			require.NoError(t, err)
			require.Len(t, dls, 1)
			d := dls[0]
			require.Equal(t, ledger.StateDelivered, d.State)
			require.NotNil(t, d.FinalAt)
			var reply string
			require.NoError(t, b.pool.QueryRow(ctx, `SELECT relay_reply FROM deliveries WHERE id = $1`, d.ID).Scan(&reply))
			require.Contains(t, reply, "250 2.0.0 Ok: queued as Q")

			events, err := ledger.EventsForNotice(ctx, b.pool, id)
			require.NoError(t, err)
			require.Len(t, events, 3)
			e := events[2]
			require.Equal(t, ledger.StateDelivered, e.Event)
			require.Equal(t, d.ID, e.DeliveryID)
			require.NotContains(t, e.Detail, "lea.dupre@exemple.fr", "the ledger's insert trigger redacts the detail")
			require.Contains(t, e.Detail, "smtp_accepted: 250 2.0.0 Ok: queued as Q")
			var q int
			_, err = fmt.Sscanf(d.ProviderMessageID, "<m%d@relay>", &q)
			require.NoError(t, err)
			want := map[string]string{"channel": "email", "provider": "relay-test", "provider_message_id": d.ProviderMessageID,
				"accepted_as": "smtp_accepted", "evidence": "smtp_accepted",
				"relay_reply": fmt.Sprintf("250 2.0.0 Ok: queued as Q%d for [email]", q)}
			require.Equal(t, want, e.Facts, "the relay reply fact is redacted")
		}
	}
}

// TestRequestCannotLinkCampaignNotice: a campaign notice being delivered
// does not look for a request to follow it (migration 0097), which holds
// because no request may be linked to one, nor a notice change campaign.
func TestRequestCannotLinkCampaignNotice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "C01", nil)
	var campaignNotice, ownNotice, campaign int64
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO campaigns (name, kind, notice_kind, template_key, created_by)
		VALUES ('c', 'general_mailing', 'general_information', 'general_information', 'op') RETURNING id`).Scan(&campaign))
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, campaign_id)
		VALUES ($1, 'general_information', 'general_information', 'camp:1', $2) RETURNING id`, rid, campaign).Scan(&campaignNotice))
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key)
		VALUES ($1, 'acknowledgement', 'acknowledgement', 'own:1') RETURNING id`, rid).Scan(&ownNotice))
	insert := `INSERT INTO requests (external_id, recipient_id, kind, received_at, ack_due_by, answer_due_by, ack_notice_id)
		VALUES ($1, $2, 'other', now(), now(), now(), $3)`
	_, err := b.pool.Exec(ctx, insert, "REQ-1", rid, campaignNotice)
	require.ErrorContains(t, err, "cannot be linked to a campaign notice")
	_, err = b.pool.Exec(ctx, insert, "REQ-2", rid, ownNotice)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE requests SET answer_notice_id = $1 WHERE external_id = 'REQ-2'`, campaignNotice)
	require.ErrorContains(t, err, "cannot be linked to a campaign notice")
	_, err = b.pool.Exec(ctx, `UPDATE notices SET campaign_id = $1 WHERE id = $2`, campaign, ownNotice)
	require.ErrorContains(t, err, "campaign_id cannot change")

	// The acknowledgement still acknowledges its request when delivered.
	_, err = b.pool.Exec(ctx, `UPDATE notices SET state = 'delivered', delivered_at = now() WHERE id = $1`, ownNotice)
	require.NoError(t, err)
	var state string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT state FROM requests WHERE external_id = 'REQ-2'`).Scan(&state))
	require.Equal(t, "acknowledged", state)
}

// TestRedactQuickTest: the ledger's redaction skips its regular
// expressions on texts that cannot hold a contact detail (a relay's reply)
// and still masks every phone and address format it masked before.
func TestRedactQuickTest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for in, want := range map[string]string{
		"250 2.0.0 Ok: queued as 4XyZ":             "250 2.0.0 Ok: queued as 4XyZ",
		"appelez le +33612345678 svp":              "appelez le [phone] svp",
		"tel 06 12 34 56 78.":                      "tel [phone].",
		"tel 06.12.34.56.78":                       "tel [phone]",
		"tel 0612345678":                           "tel [phone]",
		"tel 06-12-34-56-78":                       "tel [phone]",
		"550 5.1.1 <lea.dupre@exemple.fr> unknown": "550 5.1.1 <[email]> unknown",
		"": "",
	} {
		var got string
		require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT courrier_redact($1)`, in).Scan(&got))
		require.Equal(t, want, got, in)
	}
}

// TestGroupCommitIsolatesABadOutcome: when a group of outcomes cannot be
// recorded because of one of them, the others (possibly another batch's)
// are recorded alone and only the bad one fails.
func TestGroupCommitIsolatesABadOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "G01", nil)
	id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.GeneralInformation,
		IdempotencyKey: "isolate:1", Data: templates.SampleData(string(notices.GeneralInformation))})
	dids, err := ledger.StartAttempts(ctx, b.pool, []ledger.Attempt{{NoticeID: id, Channel: "email", Provider: "relay-test",
		Address: "lea.dupre@exemple.fr", TemplateVersion: "v", At: b.now}}, false)
	require.NoError(t, err)
	item := func(noticeID, deliveryID int64) *batchItem {
		return &batchItem{notice: &notices.Notice{ID: noticeID}, deliveryID: deliveryID, provider: "relay-test",
			step:    channels.Step{Channel: channels.Email},
			receipt: channels.Receipt{MessageID: fmt.Sprintf("<d%d@relay>", deliveryID), Delivered: true, Evidence: "smtp_accepted"},
			single:  func(int64, time.Time) {}, until: time.Now(), recorded: make(chan error, 1)}
	}
	good, bad := item(id, dids[0]), item(id+1000, dids[0]+1000) // no such delivery
	g := &b.deps.outcomes
	g.mu.Lock()
	g.pending, g.running = []*batchItem{bad, good}, true
	g.mu.Unlock()
	go b.deps.commitGroups()
	require.Error(t, <-bad.recorded)
	require.NoError(t, <-good.recorded)
	n, err := notices.Get(ctx, b.pool, id)
	require.NoError(t, err)
	require.Equal(t, notices.StateDelivered, n.State)
}
