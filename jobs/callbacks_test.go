package jobs

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// receiver is an upstream system's callback endpoint: it answers the
// statuses in script (then 200) and keeps what it received.
type receiver struct {
	mu     sync.Mutex
	script []int
	got    []received
}

type received struct {
	eventID, signature string
	body               []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, received{r.Header.Get(CallbackEventIDHeader), r.Header.Get(CallbackSignatureHeader), body})
	status := http.StatusOK
	if len(rc.script) > 0 {
		status, rc.script = rc.script[0], rc.script[1:]
	}
	w.WriteHeader(status)
}

type callbackBundle struct {
	ctx    context.Context
	b      *campaignBundle
	rc     *receiver
	secret string
	keyID  int64
	worker *StatusCallbackWorker
	now    time.Time
}

func callbackSetup(t *testing.T, script ...int) *callbackBundle {
	t.Helper()
	cb := &callbackBundle{ctx: context.Background(), b: campaignSetup(t), rc: &receiver{script: script},
		now: time.Date(2027, 3, 15, 10, 0, 0, 0, time.UTC)}
	srv := httptest.NewServer(cb.rc)
	t.Cleanup(srv.Close)
	_, k, err := CreateAPIKey(cb.ctx, cb.b.pool, NewAPIKey{Name: "cristal", Scopes: []string{ScopeIngest}})
	require.NoError(t, err)
	cb.keyID = k.ID
	cb.secret, _, err = SetCallback(cb.ctx, cb.b.pool, k.ID, srv.URL+"/courrier/status")
	require.NoError(t, err)
	cb.worker = &StatusCallbackWorker{Pool: cb.b.pool, Now: func() time.Time { return cb.now }}
	_, err = cb.b.pool.Exec(cb.ctx, `INSERT INTO recipients (ref, email) VALUES ('1000001', 'a@exemple.fr')`)
	require.NoError(t, err)
	return cb
}

// notice inserts a pending notice created by createdBy and returns its id.
func (cb *callbackBundle) notice(t *testing.T, key, createdBy string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, cb.b.pool.QueryRow(cb.ctx, `
		INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, created_by)
		VALUES ((SELECT id FROM recipients WHERE ref = '1000001'), 'rights_opened', 'rights_opened', $1, $2) RETURNING id`,
		key, createdBy).Scan(&id))
	return id
}

func (cb *callbackBundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := cb.b.pool.Exec(cb.ctx, sql, args...)
	require.NoError(t, err)
}

func (cb *callbackBundle) work(id int64, attempt int) error {
	return cb.worker.Work(cb.ctx, &river.Job[StatusCallbackArgs]{
		JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: CallbackMaxAttempts},
		Args:   StatusCallbackArgs{CallbackEventID: id},
	})
}

func (cb *callbackBundle) events(t *testing.T) []CallbackEvent {
	t.Helper()
	rows, err := cb.b.pool.Query(cb.ctx, `SELECT `+callbackEventColumns+` FROM callback_events ORDER BY id`)
	require.NoError(t, err)
	list, err := pgx.CollectRows(rows, scanCallbackEvent)
	require.NoError(t, err)
	return list
}

func TestStatusCallbackSignedRetriedOnce(t *testing.T) {
	t.Parallel()
	cb := callbackSetup(t, http.StatusInternalServerError)
	id := cb.notice(t, "rights:E1", "key:1")
	cb.exec(t, `UPDATE notices SET state = 'sending' WHERE id = $1`, id)
	require.Empty(t, cb.events(t), "only final states are called back")
	cb.exec(t, `UPDATE notices SET state = 'delivered', channel = 'email', delivered_at = now() WHERE id = $1`, id)

	n, err := DispatchCallbacks(cb.ctx, cb.b.pool, cb.b.client)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	var jobs int
	require.NoError(t, cb.b.pool.QueryRow(cb.ctx, `SELECT count(*) FROM river_job WHERE kind = 'status_callback'`).Scan(&jobs))
	require.Equal(t, 1, jobs)
	n, err = DispatchCallbacks(cb.ctx, cb.b.pool, cb.b.client)
	require.NoError(t, err)
	require.Zero(t, n, "an event is dispatched once")

	ev := cb.events(t)[0]
	require.Equal(t, CallbackNoticeDelivered, ev.Type)

	// The receiver fails once: recorded, listed, retried.
	require.ErrorContains(t, cb.work(ev.ID, 1), "500")
	failed, err := ListFailedCallbacks(cb.ctx, cb.b.pool, CallbackFilter{KeyID: cb.keyID})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "queued", failed[0].State)
	require.Equal(t, 500, *failed[0].LastStatus)
	require.Equal(t, 1, failed[0].Attempts)
	require.Equal(t, 20*time.Second, cb.worker.NextRetry(&river.Job[StatusCallbackArgs]{JobRow: &rivertype.JobRow{Attempt: 2}}).Sub(cb.now))

	require.NoError(t, cb.work(ev.ID, 2))
	ev = cb.events(t)[0]
	require.Equal(t, "delivered", ev.State)
	require.Equal(t, 2, ev.Attempts)
	failed, err = ListFailedCallbacks(cb.ctx, cb.b.pool, CallbackFilter{})
	require.NoError(t, err)
	require.Empty(t, failed)
	require.NoError(t, cb.work(ev.ID, 3), "a delivered event is not sent again")
	purged, err := PurgeDeliveredCallbacks(cb.ctx, cb.b.pool, time.Now().Add(-CallbackRetention))
	require.NoError(t, err)
	require.Zero(t, purged, "kept for the retention period")

	require.Len(t, cb.rc.got, 2)
	first, second := cb.rc.got[0], cb.rc.got[1]
	require.Equal(t, ev.EventID, first.eventID)
	require.Equal(t, first.eventID, second.eventID, "the event id is stable across retries")
	require.Equal(t, first.body, second.body)
	var body struct {
		EventID string `json:"event_id"`
		Type    string `json:"type"`
		Notice  struct {
			ID             int64  `json:"id"`
			State          string `json:"state"`
			Channel        string `json:"channel"`
			IdempotencyKey string `json:"idempotency_key"`
		} `json:"notice"`
	}
	require.NoError(t, json.Unmarshal(second.body, &body))
	require.Equal(t, ev.EventID, body.EventID)
	require.Equal(t, "notice.delivered", body.Type)
	require.Equal(t, id, body.Notice.ID)
	require.Equal(t, "email", body.Notice.Channel)
	require.Equal(t, "rights:E1", body.Notice.IdempotencyKey)

	// The documented verifier: the signature holds within the window, not
	// for a replay outside it, nor for another body or secret.
	purged, err = PurgeDeliveredCallbacks(cb.ctx, cb.b.pool, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.EqualValues(t, 1, purged)
	require.Empty(t, cb.events(t))

	require.NoError(t, VerifyCallbackSignature(cb.secret, second.signature, second.body, cb.now.Add(time.Minute), DefaultCallbackWindow))
	require.ErrorIs(t, VerifyCallbackSignature(cb.secret, second.signature, second.body, cb.now.Add(6*time.Minute), DefaultCallbackWindow), ErrOutsideWindow)
	require.ErrorIs(t, VerifyCallbackSignature(cb.secret, second.signature, append(second.body, ' '), cb.now, DefaultCallbackWindow), ErrBadSignature)
	require.ErrorIs(t, VerifyCallbackSignature("whsec_other", second.signature, second.body, cb.now, DefaultCallbackWindow), ErrBadSignature)
	require.ErrorIs(t, VerifyCallbackSignature(cb.secret, "v1=00", second.body, cb.now, DefaultCallbackWindow), ErrBadSignature)
}

func TestStatusCallbackGivesUpAfterLastAttempt(t *testing.T) {
	t.Parallel()
	cb := callbackSetup(t, 503, 503)
	id := cb.notice(t, "k1", "key:1")
	cb.exec(t, `UPDATE notices SET state = 'failed', state_reason = 'no contact' WHERE id = $1`, id)
	ev := cb.events(t)[0]
	require.Equal(t, CallbackNoticeFailed, ev.Type)
	require.Error(t, cb.work(ev.ID, CallbackMaxAttempts-1))
	require.Equal(t, "queued", cb.events(t)[0].State)
	require.Error(t, cb.work(ev.ID, CallbackMaxAttempts))
	failed, err := ListFailedCallbacks(cb.ctx, cb.b.pool, CallbackFilter{KeyID: cb.keyID})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, "failed", failed[0].State)
	require.Contains(t, failed[0].LastError, "503")
}

func TestStatusCallbackEvents(t *testing.T) {
	t.Parallel()
	cb := callbackSetup(t)
	// Every final transition of a notice or request this key created.
	ack := cb.notice(t, "request:R1:ack", "key:1/")
	answer := cb.notice(t, "request:R1:answer", "key:1")
	cb.exec(t, `INSERT INTO requests (external_id, recipient_id, kind, received_at, ack_due_by, answer_due_by, ack_notice_id, answer_notice_id, created_by)
		VALUES ('R1', (SELECT id FROM recipients WHERE ref = '1000001'), 'document', now(), now(), now(), $1, $2, 'key:1')`, ack, answer)
	cb.exec(t, `UPDATE notices SET state = 'delivered', delivered_at = now() WHERE id = $1`, ack)
	cb.exec(t, `UPDATE notices SET state = 'delivered', delivered_at = now() WHERE id = $1`, answer)
	bounced := cb.notice(t, "k-bounce", "key:1")
	cb.exec(t, `INSERT INTO deliveries (notice_id, channel, provider, state) VALUES ($1, 'email', 'smtp', 'sent')`, bounced)
	cb.exec(t, `UPDATE deliveries SET state = 'bounced', error_code = '5.1.1' WHERE notice_id = $1`, bounced)
	noRoute := cb.notice(t, "k-noroute", "key:1")
	cb.exec(t, `UPDATE notices SET state = 'no_route' WHERE id = $1`, noRoute)
	// Nothing for campaigns, other keys, or keys without a callback.
	_, other, err := CreateAPIKey(cb.ctx, cb.b.pool, NewAPIKey{Name: "other", Scopes: []string{ScopeIngest}})
	require.NoError(t, err)
	for i, by := range []string{"campaign:1", "key:" + strconv.FormatInt(other.ID, 10), "watchdog"} {
		id := cb.notice(t, "k-other-"+strconv.Itoa(i), by)
		cb.exec(t, `UPDATE notices SET state = 'delivered' WHERE id = $1`, id)
	}

	var types []string
	for _, e := range cb.events(t) {
		require.Equal(t, cb.keyID, e.KeyID)
		types = append(types, e.Type)
	}
	require.Equal(t, []string{CallbackAckDelivered, CallbackRequestClosed, CallbackNoticeDelivered, CallbackBounced, CallbackNoticeNoRoute}, types)

	// A removed callback: nothing new is recorded, pending events are dropped.
	require.NoError(t, RemoveCallback(cb.ctx, cb.b.pool, cb.keyID))
	late := cb.notice(t, "k-late", "key:1")
	cb.exec(t, `UPDATE notices SET state = 'delivered' WHERE id = $1`, late)
	require.Len(t, cb.events(t), 5)
	err = cb.work(cb.events(t)[0].ID, 1)
	var cancel *river.JobCancelError
	require.ErrorAs(t, err, &cancel)
	require.Empty(t, cb.rc.got)
}

func TestCallbackURLAndBackoff(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"https://crm.caf.fr/hooks/courrier", "http://127.0.0.1:8080/x", "http://localhost/x"} {
		require.NoError(t, CheckCallbackURL(ok), ok)
	}
	for _, bad := range []string{"ftp://x", "http://crm.caf.fr/x", "https://user:pw@crm.caf.fr/", "/relative", ""} {
		require.Error(t, CheckCallbackURL(bad), bad)
	}
	require.Equal(t, 10*time.Second, CallbackBackoff(1))
	require.Equal(t, 80*time.Second, CallbackBackoff(4))
	require.Equal(t, 4*time.Hour, CallbackBackoff(CallbackMaxAttempts))

	pool := pgtest.New(t)
	_, _, err := SetCallback(context.Background(), pool, 42, "https://crm.caf.fr/x")
	require.ErrorIs(t, err, ErrKeyNotFound)
}

// Through a running River client: the dispatched event is worked by the
// status_callback worker and reaches the receiver, signed.
func TestStatusCallbackThroughRiver(t *testing.T) {
	t.Parallel()
	cb := callbackSetup(t)
	client, err := NewClient(cb.b.pool, &Deps{Pool: cb.b.pool}, ClientConfig{FetchPollInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Extra:  func(w *river.Workers) error { return AddCallbackWorkers(w, cb.b.pool, nil) }})
	require.NoError(t, err)
	require.NoError(t, client.Start(cb.ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
	id := cb.notice(t, "k-river", "key:1")
	cb.exec(t, `UPDATE notices SET state = 'no_route', state_reason = 'no contact' WHERE id = $1`, id)
	n, err := DispatchCallbacks(cb.ctx, cb.b.pool, client)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	deadline := time.Now().Add(30 * time.Second)
	for cb.events(t)[0].State != "delivered" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	ev := cb.events(t)[0]
	require.Equal(t, "delivered", ev.State)
	cb.rc.mu.Lock()
	defer cb.rc.mu.Unlock()
	require.Len(t, cb.rc.got, 1)
	require.Equal(t, ev.EventID, cb.rc.got[0].eventID)
	require.NoError(t, VerifyCallbackSignature(cb.secret, cb.rc.got[0].signature, cb.rc.got[0].body, time.Now(), DefaultCallbackWindow))
}
