package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
)

type testBundle struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	deps   *Deps
	outbox *channels.Outbox
	now    time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := pgtest.New(t)
	tpl, err := templates.Load(nil)
	require.NoError(t, err)
	outbox, err := channels.NewOutbox(t.TempDir(), "")
	require.NoError(t, err)
	b := &testBundle{pool: pool, outbox: outbox, now: time.Date(2027, 3, 15, 10, 0, 0, 0, time.UTC)}
	b.deps = &Deps{
		Pool: pool, Templates: tpl, Outbox: outbox, Routes: channels.DefaultRoutes(),
		Channels: map[channels.Name]channels.Channel{channels.Email: outbox, channels.SMS: outbox, channels.Letter: outbox},
		Now:      func() time.Time { return b.now },
	}
	b.client, err = NewInsertClient(pool, nil)
	require.NoError(t, err)
	return b
}

func (b *testBundle) recipient(t *testing.T, ref string, mutate func(r *recipients.Recipient)) int64 {
	t.Helper()
	r := &recipients.Recipient{
		Ref: ref, Civility: "Mme", GivenName: "Léa", FamilyName: "Dupré", Email: "lea.dupre@exemple.fr",
		Phone: "+33612345678", PhoneType: "mobile", AddressLine1: "3 rue des Lilas", PostalCode: "75011", City: "Paris",
		ConsentEmail: true, ConsentSMS: true, ConsentLetter: true, Active: true,
	}
	if mutate != nil {
		mutate(r)
	}
	id, _, err := recipients.Upsert(context.Background(), b.pool, r)
	require.NoError(t, err)
	return id
}

func (b *testBundle) enqueue(t *testing.T, n notices.New) (int64, bool) {
	t.Helper()
	ctx := context.Background()
	var id int64
	var created bool
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var err error
		id, created, err = EnqueueNotice(ctx, tx, b.client, n, nil)
		return err
	}))
	return id, created
}

func countJobs(t *testing.T, pool *pgxpool.Pool, kind string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM river_job WHERE kind = $1", kind).Scan(&n))
	return n
}

func rightsNotice(rid int64, key string) notices.New {
	return notices.New{RecipientID: rid, Kind: notices.RightsOpened, IdempotencyKey: key,
		Data: templates.SampleData(string(notices.RightsOpened)), CreatedBy: "test"}
}

func TestEnqueueNoticeCommitRollbackReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "1000001", nil)

	// Rollback: neither the notice nor its job survive.
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	_, created, err := EnqueueNotice(ctx, tx, b.client, rightsNotice(rid, "k-rollback"), nil)
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, tx.Rollback(ctx))
	var notices_ int
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT count(*) FROM notices").Scan(&notices_))
	require.Zero(t, notices_)
	require.Zero(t, countJobs(t, b.pool, "deliver"))

	// Commit: one notice, one job.
	id, created := b.enqueue(t, rightsNotice(rid, "k-commit"))
	require.True(t, created)
	require.Equal(t, 1, countJobs(t, b.pool, "deliver"))

	// Replay of the idempotency key: the same notice, no new job.
	id2, created := b.enqueue(t, rightsNotice(rid, "k-commit"))
	require.False(t, created)
	require.Equal(t, id, id2)
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT count(*) FROM notices").Scan(&notices_))
	require.Equal(t, 1, notices_)
	require.Equal(t, 1, countJobs(t, b.pool, "deliver"))
}

func TestEnqueueNoticeRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "1000002", nil)
	for name, n := range map[string]notices.New{
		"unknown kind":    {RecipientID: rid, Kind: "birthday", IdempotencyKey: "x"},
		"no key":          {RecipientID: rid, Kind: notices.RightsOpened},
		"no recipient":    {Kind: notices.RightsOpened, IdempotencyKey: "y"},
		"unknown subject": {RecipientID: rid + 999, Kind: notices.RightsOpened, IdempotencyKey: "z"},
	} {
		err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			_, _, err := EnqueueNotice(ctx, tx, b.client, n, nil)
			return err
		})
		require.Error(t, err, name)
	}
	require.Zero(t, countJobs(t, b.pool, "deliver"))
}

func TestDeliverWritesOutboxAndLedgerOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "1000003", nil)
	id, _ := b.enqueue(t, rightsNotice(rid, "k-deliver"))

	require.NoError(t, b.deps.deliver(ctx, id, false))

	n, err := notices.Get(ctx, b.pool, id)
	require.NoError(t, err)
	require.Equal(t, notices.StateDelivered, n.State)
	require.Equal(t, "email", n.Channel)
	dls, err := ledger.DeliveriesForNotice(ctx, b.pool, id)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, ledger.StateDelivered, dls[0].State)
	require.Equal(t, "outbox", dls[0].Provider)
	require.NotEmpty(t, dls[0].TemplateVersion)
	require.NotEmpty(t, dls[0].ProviderMessageID)

	files, err := filepath.Glob(filepath.Join(b.outbox.Dir, "email", "*.eml"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.Contains(t, string(raw), "Content-Language: fr")
	require.Contains(t, string(raw), "multipart/alternative")
	parsed, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	to, err := parsed.Header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Name: "Léa Dupré", Address: "lea.dupre@exemple.fr"}}, to)
	require.Equal(t, fmt.Sprintf("<n%d.d%d@caf.example.fr>", id, dls[0].ID), parsed.Header.Get("Message-Id"))

	var events []string
	evs, err := ledger.EventsForNotice(ctx, b.pool, id)
	require.NoError(t, err)
	for _, e := range evs {
		events = append(events, e.Event)
	}
	require.Equal(t, []string{"notice_created", "sending", "delivered"}, events)

	// Running the same job again sends nothing more.
	require.NoError(t, b.deps.deliver(ctx, id, false))
	files, _ = filepath.Glob(filepath.Join(b.outbox.Dir, "email", "*.eml"))
	require.Len(t, files, 1)
	evs, err = ledger.EventsForNotice(ctx, b.pool, id)
	require.NoError(t, err)
	require.Len(t, evs, 3)
}

func TestDeliverSMSAsJSONWhenNoEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "1000004", func(r *recipients.Recipient) { r.Email = "" })
	id, _ := b.enqueue(t, rightsNotice(rid, "k-sms"))
	require.NoError(t, b.deps.deliver(ctx, id, false))

	files, _ := filepath.Glob(filepath.Join(b.outbox.Dir, "sms", "*.json"))
	require.Len(t, files, 1)
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	var sms struct {
		To   string `json:"to"`
		Body string `json:"body"`
	}
	require.NoError(t, json.Unmarshal(raw, &sms))
	require.Equal(t, "+33612345678", sms.To)
	require.NotEmpty(t, sms.Body)
	n, _ := notices.Get(ctx, b.pool, id)
	require.Equal(t, "sms", n.Channel)
}

// scripted is a channel whose Send returns the next scripted error (nil = accept).
type scripted struct {
	errs  []error
	calls atomic.Int32
}

func (s *scripted) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	i := int(s.calls.Add(1)) - 1
	if i < len(s.errs) && s.errs[i] != nil {
		return channels.Receipt{}, s.errs[i]
	}
	return channels.Receipt{Provider: "scripted", MessageID: "m1", Delivered: true, Evidence: "test"}, nil
}

func TestDeliverFallsBackOnPermanentFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	sms := &scripted{errs: []error{&channels.Error{Class: channels.Permanent, Code: "21211", AddressRejected: true}}}
	b.deps.Channels[channels.SMS] = sms
	rid := b.recipient(t, "1000005", nil)
	id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.ReminderGeneric, IdempotencyKey: "k-fallback",
		Data: templates.SampleData(string(notices.ReminderGeneric))})

	require.NoError(t, b.deps.deliver(ctx, id, false))
	n, _ := notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StateDelivered, n.State)
	require.Equal(t, "email", n.Channel, "the reminder route is sms then email")
	dls, _ := ledger.DeliveriesForNotice(ctx, b.pool, id)
	require.Len(t, dls, 2)
	require.Equal(t, "sms", dls[0].Channel)
	require.Equal(t, ledger.StateFailed, dls[0].State)
	require.Equal(t, "21211", dls[0].ErrorCode)
	require.Equal(t, "email", dls[1].Channel)
	require.Equal(t, ledger.StateDelivered, dls[1].State)
	r, _ := recipients.Get(ctx, b.pool, rid)
	require.Equal(t, "undeliverable", r.PhoneStatus)
}

func TestDeliverTransientRetriesThenSends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	email := &scripted{errs: []error{&channels.Error{Class: channels.Transient, Code: "421"}}}
	b.deps.Channels[channels.Email] = email
	rid := b.recipient(t, "1000006", nil)
	id, _ := b.enqueue(t, rightsNotice(rid, "k-transient"))

	err := b.deps.deliver(ctx, id, false)
	require.Error(t, err, "a transient failure is returned so River retries")
	n, _ := notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StateSending, n.State)
	dls, _ := ledger.DeliveriesForNotice(ctx, b.pool, id)
	require.Equal(t, ledger.StatePending, dls[0].State)

	require.NoError(t, b.deps.deliver(ctx, id, false))
	n, _ = notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StateDelivered, n.State)
	dls, _ = ledger.DeliveriesForNotice(ctx, b.pool, id)
	require.Len(t, dls, 1)
	require.Equal(t, 2, dls[0].Attempt)
}

func TestDeliverNoRouteIsRecordedWithReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "1000007", func(r *recipients.Recipient) {
		r.Email, r.Phone, r.AddressLine1 = "", "", ""
	})
	id, _ := b.enqueue(t, rightsNotice(rid, "k-noroute"))
	require.NoError(t, b.deps.deliver(ctx, id, false))
	n, _ := notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StateNoRoute, n.State)
	require.Contains(t, n.StateReason, "email: no email address")
	require.Contains(t, n.StateReason, "letter: no postal address")
}

func TestDeliverRenderErrorFailsPermanently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "1000008", nil)
	id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.RightsOpened, IdempotencyKey: "k-bad", Data: map[string]any{}})
	err := b.deps.deliver(ctx, id, false)
	var cancel *river.JobCancelError
	require.True(t, errors.As(err, &cancel), "got %v", err)
	n, _ := notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StateFailed, n.State)
	require.True(t, strings.Contains(n.StateReason, "render failed"), n.StateReason)
	files, _ := filepath.Glob(filepath.Join(b.outbox.Dir, "*", "*"))
	require.Empty(t, files, "nothing half-rendered is sent")
}

func TestDeliverSnoozesSMSInQuietHours(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.deps.Quiet = channels.DefaultQuietHours()
	paris, _ := time.LoadLocation("Europe/Paris")
	b.now = time.Date(2027, 3, 13, 21, 0, 0, 0, paris) // a Saturday evening
	rid := b.recipient(t, "1000009", nil)
	id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.ReminderGeneric, IdempotencyKey: "k-quiet",
		Data: templates.SampleData(string(notices.ReminderGeneric))})
	err := b.deps.deliver(ctx, id, false)
	var snooze *river.JobSnoozeError
	require.True(t, errors.As(err, &snooze), "got %v", err)
	require.Equal(t, time.Date(2027, 3, 15, 8, 0, 0, 0, paris), b.now.Add(snooze.Duration))
	files, _ := filepath.Glob(filepath.Join(b.outbox.Dir, "sms", "*"))
	require.Empty(t, files)
}

// smsAccepted is an SMS channel that is accepted and awaits a receipt.
type smsAccepted struct{}

func (smsAccepted) Provider() string { return "twilio" }

func (smsAccepted) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	return channels.Receipt{Provider: "twilio", MessageID: fmt.Sprintf("SM%d", msg.DeliveryID), Evidence: "twilio_accepted"}, nil
}

func TestUndeliveredReceiptFallsBackToNextChannel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.deps.Channels[channels.SMS] = smsAccepted{}
	rid := b.recipient(t, "1000010", nil)
	id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.ReminderGeneric, IdempotencyKey: "k-receipt",
		Data: templates.SampleData(string(notices.ReminderGeneric))})

	require.NoError(t, b.deps.deliver(ctx, id, false))
	n, _ := notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StateSent, n.State, "an SMS waits for its receipt")
	require.NoError(t, b.deps.deliver(ctx, id, false), "a replayed job does nothing while waiting")
	dls, _ := ledger.DeliveriesForNotice(ctx, b.pool, id)
	require.Len(t, dls, 1)

	// Twilio says undelivered: in the receipt's transaction, the notice is
	// handed back to a deliver job.
	jobsBefore := countJobs(t, b.pool, "deliver")
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		out, err := ledger.RecordReceipt(ctx, tx, ledger.Receipt{Provider: "twilio", MessageID: dls[0].ProviderMessageID,
			Status: "undelivered", ErrorCode: "30003", OccurredAt: b.now})
		if err != nil {
			return err
		}
		require.True(t, out.FinalFailure)
		return FallbackAfterReceipt(b.client)(ctx, tx, out.NoticeID)
	}))
	require.Equal(t, jobsBefore+1, countJobs(t, b.pool, "deliver"))

	require.NoError(t, b.deps.deliver(ctx, id, false))
	n, _ = notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StateDelivered, n.State)
	require.Equal(t, "email", n.Channel)
	dls, _ = ledger.DeliveriesForNotice(ctx, b.pool, id)
	require.Len(t, dls, 2)
	require.Equal(t, ledger.StateUndelivered, dls[0].State)
	require.Equal(t, ledger.StateDelivered, dls[1].State)
}

func TestUnknownDeliveryFallsBackToNextChannel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.deps.Channels[channels.SMS] = smsAccepted{}
	rid := b.recipient(t, "1000011", nil)
	id, _ := b.enqueue(t, notices.New{RecipientID: rid, Kind: notices.ReminderGeneric, IdempotencyKey: "k-unknown",
		Data: templates.SampleData(string(notices.ReminderGeneric))})
	require.NoError(t, b.deps.deliver(ctx, id, false))
	n, _ := notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StateSent, n.State, "an SMS waits for its receipt")

	// No receipt within the stuck period: unknown, and the notice moves on.
	jobsBefore := countJobs(t, b.pool, "deliver")
	w := &StuckWorker{Pool: b.pool, Now: func() time.Time { return b.now.Add(73 * time.Hour) }, Fallback: FallbackAfterReceipt(b.client)}
	require.NoError(t, w.Work(ctx, &river.Job[StuckArgs]{}))
	require.Equal(t, jobsBefore+1, countJobs(t, b.pool, "deliver"))
	n, _ = notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StatePending, n.State)

	require.NoError(t, b.deps.deliver(ctx, id, false))
	n, _ = notices.Get(ctx, b.pool, id)
	require.Equal(t, notices.StateDelivered, n.State)
	require.Equal(t, "email", n.Channel)
	dls, _ := ledger.DeliveriesForNotice(ctx, b.pool, id)
	require.Len(t, dls, 2)
	require.Equal(t, ledger.StateUnknown, dls[0].State)
}
