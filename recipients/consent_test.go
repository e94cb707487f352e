package recipients

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func insertRecipient(t *testing.T, db *pgxpool.Pool, ref, email, phone string) int64 {
	t.Helper()
	var id int64
	err := db.QueryRow(context.Background(),
		`INSERT INTO recipients (ref, email, phone) VALUES ($1, nullif($2, ''), nullif($3, '')) RETURNING id`,
		ref, email, phone).Scan(&id)
	require.NoError(t, err)
	return id
}

type recipientEvent struct {
	Event, Channel, Source, Detail string
}

func recipientEvents(t *testing.T, db *pgxpool.Pool, id int64) []recipientEvent {
	t.Helper()
	rows, err := db.Query(context.Background(),
		`SELECT event, channel, source, detail FROM recipient_events WHERE recipient_id = $1 ORDER BY id`, id)
	require.NoError(t, err)
	defer rows.Close()
	var out []recipientEvent
	for rows.Next() {
		var e recipientEvent
		require.NoError(t, rows.Scan(&e.Event, &e.Channel, &e.Source, &e.Detail))
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestSMSConsentByPhone(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	a := insertRecipient(t, db, "A1", "", "+33612345678")
	b := insertRecipient(t, db, "B1", "", "+33612345678") // a shared family phone
	c := insertRecipient(t, db, "C1", "", "+33700000000")

	n, err := WithdrawSMSConsentByPhone(ctx, db, "+33612345678", "twilio_inbound")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = WithdrawSMSConsentByPhone(ctx, db, "+33612345678", "twilio_inbound")
	require.NoError(t, err)
	require.Zero(t, n, "already withdrawn: nothing written")

	for _, id := range []int64{a, b} {
		r, err := Get(ctx, db, id)
		require.NoError(t, err)
		require.False(t, r.ConsentSMS)
		require.Equal(t, []recipientEvent{{Event: EventSMSConsentWithdrawn, Channel: "sms", Source: "twilio_inbound"}}, recipientEvents(t, db, id))
	}
	r, err := Get(ctx, db, c)
	require.NoError(t, err)
	require.True(t, r.ConsentSMS)
	require.Empty(t, recipientEvents(t, db, c))

	n, err = RestoreSMSConsentByPhone(ctx, db, "+33612345678", "twilio_inbound")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	r, err = Get(ctx, db, a)
	require.NoError(t, err)
	require.True(t, r.ConsentSMS)
	require.Len(t, recipientEvents(t, db, a), 2)

	n, err = WithdrawSMSConsentByPhone(ctx, db, "+33999999999", "twilio_inbound")
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestContactStatusChanges(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	id := insertRecipient(t, db, "R1", "r@example.fr", "+33612345678")

	require.NoError(t, MarkEmailUndeliverable(ctx, db, id, "smtp 550"))
	require.NoError(t, MarkEmailUndeliverable(ctx, db, id, "smtp 550")) // idempotent
	require.NoError(t, MarkPhoneUndeliverable(ctx, db, id, "twilio 21211"))
	require.NoError(t, WithdrawSMSConsent(ctx, db, id, "twilio_error_21610"))
	require.NoError(t, OptOutOutreach(ctx, db, id, "unsubscribe_link"))
	require.NoError(t, OptOutOutreach(ctx, db, id, "unsubscribe_link"))

	r, err := Get(ctx, db, id)
	require.NoError(t, err)
	require.Equal(t, "undeliverable", r.EmailStatus)
	require.Equal(t, "undeliverable", r.PhoneStatus)
	require.False(t, r.ConsentSMS)
	require.True(t, r.OutreachOptOut)
	require.Equal(t, []recipientEvent{
		{Event: EventEmailUndeliverable, Channel: "email", Detail: "smtp 550"},
		{Event: EventPhoneUndeliverable, Channel: "sms", Detail: "twilio 21211"},
		{Event: EventSMSConsentWithdrawn, Channel: "sms", Source: "twilio_error_21610"},
		{Event: EventUnsubscribed, Source: "unsubscribe_link"},
	}, recipientEvents(t, db, id))

	err = OptOutOutreach(ctx, db, 999999, "unsubscribe_link")
	require.True(t, errors.Is(err, ErrNotFound), "got %v", err)

	_, err = db.Exec(ctx, `DELETE FROM recipient_events`)
	require.ErrorContains(t, err, "append-only")
}

// TestSTOPAppliesToBeneficiariesCreatedLater remembers a number that
// replied STOP: a beneficiary created (or given that number) later gets no
// SMS consent, until the number replies START.
func TestSTOPAppliesToBeneficiariesCreatedLater(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	const phone = "+33612345678"
	n, err := WithdrawSMSConsentByPhone(ctx, db, phone, "twilio_inbound")
	require.NoError(t, err)
	require.Zero(t, n, "nobody has the number yet")

	id, _, err := Upsert(ctx, db, &Recipient{Ref: "L1", Phone: phone, ConsentSMS: true, Active: true})
	require.NoError(t, err)
	r, _ := Get(ctx, db, id)
	require.False(t, r.ConsentSMS, "created later with a stopped number")
	require.Equal(t, []recipientEvent{{Event: EventSMSConsentWithdrawn, Channel: "sms", Source: "sms_opt_out_list", Detail: "the number replied STOP before"}},
		recipientEvents(t, db, id))

	_, err = UpsertMany(ctx, db, []*Recipient{{Ref: "L2", Phone: phone, ConsentSMS: true}, {Ref: "L3", Phone: "+33698765432", ConsentSMS: true}}, nil)
	require.NoError(t, err)
	l2, _ := GetByRef(ctx, db, "L2")
	l3, _ := GetByRef(ctx, db, "L3")
	require.False(t, l2.ConsentSMS)
	require.True(t, l3.ConsentSMS)

	// START: the number is forgotten and consent restored.
	n, err = RestoreSMSConsentByPhone(ctx, db, phone, "twilio_inbound")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, _, err = Upsert(ctx, db, &Recipient{Ref: "L4", Phone: phone, ConsentSMS: true})
	require.NoError(t, err)
	l4, _ := GetByRef(ctx, db, "L4")
	require.True(t, l4.ConsentSMS)
}
