package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// Status callbacks: an API key may register one URL; every final status
// change of the notices and requests the key created is POSTed to it as
// JSON. The events are recorded by database triggers in the transaction
// that made the change (migration 0081), handed to River by a periodic
// dispatch job, and delivered by status_callback jobs with retries and
// exponential backoff: at least once, each with an event id that stays the
// same across retries so that receivers can drop duplicates.
//
// Each POST carries:
//
//	Content-Type: application/json
//	Courrier-Event-Id: <uuid>
//	Courrier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// A receiver recomputes the HMAC over the timestamp, a dot and the raw
// body, compares it in constant time, and rejects a timestamp outside its
// replay window (VerifyCallbackSignature does exactly that).

// Callback header names.
const (
	CallbackSignatureHeader = "Courrier-Signature"
	CallbackEventIDHeader   = "Courrier-Event-Id"
)

// DefaultCallbackWindow is the replay window VerifyCallbackSignature
// callers are advised to use.
const DefaultCallbackWindow = 5 * time.Minute

// Callback event types.
const (
	CallbackNoticeDelivered = "notice.delivered"
	CallbackNoticeFailed    = "notice.failed"
	CallbackNoticeNoRoute   = "notice.no_route"
	CallbackBounced         = "delivery.bounced"
	CallbackAckDelivered    = "acknowledgement.delivered"
	CallbackRequestClosed   = "request.closed"
)

// ErrNoCallback is returned for a key without a registered callback.
var ErrNoCallback = errors.New("no status callback registered for this API key")

// Callback is a key's registered status callback: never its secret.
type Callback struct {
	KeyID        int64     `json:"key_id"`
	URL          string    `json:"url"`
	SecretPrefix string    `json:"secret_prefix"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// CheckCallbackURL accepts an https URL, or http on a loopback host (tests,
// a receiver on the same machine).
func CheckCallbackURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("url: %q is not an absolute http(s) URL", raw)
	}
	if u.User != nil {
		return errors.New("url: must not carry credentials (the signature authenticates courrier)")
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return errors.New("url: must be https (http only on a loopback address)")
		}
	}
	if len(raw) > 2000 {
		return errors.New("url: at most 2000 characters")
	}
	return nil
}

// SetCallback registers (or replaces) the status callback of API key
// keyID and returns a new signing secret, shown to the caller once and
// never again. A revoked key cannot register one.
func SetCallback(ctx context.Context, db *pgxpool.Pool, keyID int64, rawURL string) (secret string, cb Callback, err error) {
	rawURL = strings.TrimSpace(rawURL)
	if err := CheckCallbackURL(rawURL); err != nil {
		return "", Callback{}, err
	}
	if secret, err = newSecret("whsec_"); err != nil {
		return "", Callback{}, err
	}
	err = db.QueryRow(ctx, `
		INSERT INTO api_key_callbacks (key_id, url, secret, secret_prefix)
		SELECT id, $2, $3, $4 FROM api_keys WHERE id = $1 AND revoked_at IS NULL
		ON CONFLICT (key_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret,
		    secret_prefix = EXCLUDED.secret_prefix, updated_at = now()
		RETURNING key_id, url, secret_prefix, created_at, updated_at`,
		keyID, rawURL, secret, secret[:APIKeyShownPrefix]).Scan(&cb.KeyID, &cb.URL, &cb.SecretPrefix, &cb.CreatedAt, &cb.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", Callback{}, fmt.Errorf("%w (or revoked): %d", ErrKeyNotFound, keyID)
	}
	if err != nil {
		return "", Callback{}, fmt.Errorf("set callback of API key %d: %w", keyID, err)
	}
	return secret, cb, nil
}

// GetCallback returns the status callback of API key keyID.
func GetCallback(ctx context.Context, db *pgxpool.Pool, keyID int64) (Callback, error) {
	var cb Callback
	err := db.QueryRow(ctx, `SELECT key_id, url, secret_prefix, created_at, updated_at FROM api_key_callbacks WHERE key_id = $1`,
		keyID).Scan(&cb.KeyID, &cb.URL, &cb.SecretPrefix, &cb.CreatedAt, &cb.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Callback{}, fmt.Errorf("%w: %d", ErrNoCallback, keyID)
	}
	return cb, err
}

// RemoveCallback removes the status callback of API key keyID: no new
// event is recorded for it, and events not yet delivered are dropped at
// their next attempt.
func RemoveCallback(ctx context.Context, db *pgxpool.Pool, keyID int64) error {
	tag, err := db.Exec(ctx, `DELETE FROM api_key_callbacks WHERE key_id = $1`, keyID)
	if err != nil {
		return fmt.Errorf("remove callback of API key %d: %w", keyID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %d", ErrNoCallback, keyID)
	}
	return nil
}

// CallbackEvent is one recorded status callback and how its delivery went.
type CallbackEvent struct {
	ID            int64      `json:"id"`
	EventID       string     `json:"event_id"`
	KeyID         int64      `json:"key_id"`
	Type          string     `json:"type"`
	NoticeID      int64      `json:"notice_id,omitempty"`
	RequestID     int64      `json:"request_id,omitempty"`
	OccurredAt    time.Time  `json:"occurred_at"`
	State         string     `json:"state"` // pending, queued (being delivered or retried), delivered, failed (gave up)
	Attempts      int        `json:"attempts"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	LastStatus    *int       `json:"last_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
}

// CallbackFilter narrows ListFailedCallbacks.
type CallbackFilter struct {
	KeyID int64 // 0: every key
	// Before is a cursor: only events with a smaller id (0: from the latest).
	Before int64
	Limit  int // default 50, at most 500
}

const callbackEventColumns = `id, event_id::text, key_id, type, coalesce(notice_id, 0), coalesce(request_id, 0), occurred_at,
	state, attempts, last_attempt_at, last_status, last_error, delivered_at`

func scanCallbackEvent(row pgx.CollectableRow) (CallbackEvent, error) {
	var e CallbackEvent
	err := row.Scan(&e.ID, &e.EventID, &e.KeyID, &e.Type, &e.NoticeID, &e.RequestID, &e.OccurredAt,
		&e.State, &e.Attempts, &e.LastAttemptAt, &e.LastStatus, &e.LastError, &e.DeliveredAt)
	return e, err
}

// ListFailedCallbacks lists, latest first, the callbacks whose last
// attempt failed: those River still retries (state queued) and those it
// gave up on (state failed), with the HTTP status and error of the last
// attempt.
func ListFailedCallbacks(ctx context.Context, db *pgxpool.Pool, f CallbackFilter) ([]CallbackEvent, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	rows, err := db.Query(ctx, `SELECT `+callbackEventColumns+` FROM callback_events
		WHERE last_error <> '' AND state <> 'delivered' AND ($1 = 0 OR key_id = $1) AND ($2 = 0 OR id < $2)
		ORDER BY id DESC LIMIT $3`, f.KeyID, f.Before, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list failed callbacks: %w", err)
	}
	return pgx.CollectRows(rows, scanCallbackEvent)
}

// SignCallback returns the Courrier-Signature header value for body sent
// at t.
func SignCallback(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(callbackMAC(secret, ts, body))
}

func callbackMAC(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Errors of VerifyCallbackSignature.
var (
	ErrBadSignature  = errors.New("callback signature does not match")
	ErrOutsideWindow = errors.New("callback timestamp outside the replay window")
)

// VerifyCallbackSignature checks a Courrier-Signature header value against
// the raw body, as a receiver should: the HMAC must match (compared in
// constant time) and the timestamp must lie within window of now (either
// side), so that a captured request cannot be replayed later.
func VerifyCallbackSignature(secret, header string, body []byte, now time.Time, window time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: header must be t=<unix seconds>,v1=<hex>", ErrBadSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, callbackMAC(secret, ts, body)) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > window || d < -window {
		return ErrOutsideWindow
	}
	return nil
}

// CallbackDispatchArgs hands the pending callback events to
// status_callback jobs.
type CallbackDispatchArgs struct{}

// Kind is the River job kind.
func (CallbackDispatchArgs) Kind() string { return "callback_dispatch" }

// CallbackDispatchWorker works CallbackDispatchArgs.
type CallbackDispatchWorker struct {
	river.WorkerDefaults[CallbackDispatchArgs]
	Pool *pgxpool.Pool
}

// Work dispatches every pending event, then purges delivered events older
// than CallbackRetention.
func (w *CallbackDispatchWorker) Work(ctx context.Context, job *river.Job[CallbackDispatchArgs]) error {
	if _, err := DispatchCallbacks(ctx, w.Pool, river.ClientFromContext[pgx.Tx](ctx)); err != nil {
		return err
	}
	_, err := PurgeDeliveredCallbacks(ctx, w.Pool, time.Now().Add(-CallbackRetention))
	return err
}

// CallbackRetention is how long a delivered callback event is kept; failed
// events are never purged.
const CallbackRetention = 30 * 24 * time.Hour

// PurgeDeliveredCallbacks deletes up to 5,000 events delivered before
// before, oldest first, and returns how many it deleted.
func PurgeDeliveredCallbacks(ctx context.Context, pool *pgxpool.Pool, before time.Time) (int64, error) {
	tag, err := pool.Exec(ctx, `
		DELETE FROM callback_events WHERE id IN (
		    SELECT id FROM callback_events WHERE state = 'delivered' AND delivered_at < $1 ORDER BY delivered_at LIMIT 5000)`, before)
	if err != nil {
		return 0, fmt.Errorf("purge delivered callbacks: %w", err)
	}
	return tag.RowsAffected(), nil
}

// DispatchCallbacks inserts a status_callback job for each pending event,
// 500 per transaction, and marks them queued in the same transaction. It
// returns how many it dispatched.
func DispatchCallbacks(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx]) (int, error) {
	total := 0
	for {
		var n int
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `
				UPDATE callback_events SET state = 'queued'
				WHERE id IN (SELECT id FROM callback_events WHERE state = 'pending' ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED)
				RETURNING id`)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil || len(ids) == 0 {
				return err
			}
			params := make([]river.InsertManyParams, len(ids))
			for i, id := range ids {
				params[i] = river.InsertManyParams{Args: StatusCallbackArgs{CallbackEventID: id}}
			}
			n = len(ids)
			_, err = client.InsertManyTx(ctx, tx, params)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("dispatch status callbacks: %w", err)
		}
		total += n
		if n < 500 {
			return total, nil
		}
	}
}

// StatusCallbackArgs delivers one callback event.
type StatusCallbackArgs struct {
	CallbackEventID int64 `json:"callback_event_id"`
}

// Kind is the River job kind.
func (StatusCallbackArgs) Kind() string { return "status_callback" }

// CallbackMaxAttempts is how many times a callback is tried: with the
// backoff of StatusCallbackWorker.NextRetry, about 19 hours in all.
const CallbackMaxAttempts = 15

// InsertOpts: lower priority than deliveries.
func (StatusCallbackArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: CallbackMaxAttempts, Priority: 3}
}

// StatusCallbackWorker POSTs one signed callback event.
type StatusCallbackWorker struct {
	river.WorkerDefaults[StatusCallbackArgs]
	Pool   *pgxpool.Pool
	HTTP   *http.Client // default: 10-second timeout, no redirects
	Now    func() time.Time
	Logger *slog.Logger
}

// Timeout bounds one attempt.
func (w *StatusCallbackWorker) Timeout(*river.Job[StatusCallbackArgs]) time.Duration {
	return 30 * time.Second
}

// CallbackBackoff is the wait after the attempt-th failed attempt:
// 10 s, 20 s, 40 s … doubling, at most 4 hours.
func CallbackBackoff(attempt int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < attempt && d < 4*time.Hour; i++ {
		d *= 2
	}
	return min(d, 4*time.Hour)
}

// NextRetry backs off exponentially (CallbackBackoff).
func (w *StatusCallbackWorker) NextRetry(job *river.Job[StatusCallbackArgs]) time.Time {
	return w.now().Add(CallbackBackoff(job.Attempt))
}

func (w *StatusCallbackWorker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

var defaultCallbackHTTP = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Work sends the event. A 2xx answer delivers it; anything else is
// recorded on the event and retried, until the last attempt marks it
// failed.
func (w *StatusCallbackWorker) Work(ctx context.Context, job *river.Job[StatusCallbackArgs]) error {
	id := job.Args.CallbackEventID
	var eventID, cbURL, secret, state string
	var payload []byte
	err := w.Pool.QueryRow(ctx, `
		SELECT e.event_id::text, e.payload::text, e.state, coalesce(c.url, ''), coalesce(c.secret, '')
		FROM callback_events e LEFT JOIN api_key_callbacks c ON c.key_id = e.key_id
		WHERE e.id = $1`, id).Scan(&eventID, &payload, &state, &cbURL, &secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("callback event %d not found", id))
	}
	if err != nil {
		return fmt.Errorf("load callback event %d: %w", id, err)
	}
	if state == "delivered" {
		return nil
	}
	if cbURL == "" {
		w.record(ctx, id, "failed", nil, "callback removed before delivery")
		return river.JobCancel(fmt.Errorf("callback event %d: the key's callback was removed", id))
	}
	status, sendErr := w.post(ctx, cbURL, secret, eventID, payload)
	if sendErr == nil {
		w.record(ctx, id, "delivered", &status, "")
		return nil
	}
	final := "queued"
	if job.Attempt >= job.MaxAttempts {
		final = "failed"
	}
	var sp *int
	if status != 0 {
		sp = &status
	}
	w.record(ctx, id, final, sp, sendErr.Error())
	return fmt.Errorf("callback event %d: %w", id, sendErr)
}

func (w *StatusCallbackWorker) post(ctx context.Context, cbURL, secret, eventID string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cbURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "courrier-callbacks/1")
	req.Header.Set(CallbackEventIDHeader, eventID)
	req.Header.Set(CallbackSignatureHeader, SignCallback(secret, w.now(), body))
	hc := w.HTTP
	if hc == nil {
		hc = defaultCallbackHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the receiver's, not worth repeating
		}
		return 0, fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// record saves the outcome of an attempt. It runs even when the job's
// context is cancelled, so that an attempt is never left unrecorded.
func (w *StatusCallbackWorker) record(ctx context.Context, id int64, state string, status *int, errText string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if len(errText) > 500 {
		errText = errText[:500]
	}
	_, err := w.Pool.Exec(ctx, `
		UPDATE callback_events SET state = $2, attempts = attempts + 1, last_attempt_at = now(), last_status = $3,
		    last_error = $4, delivered_at = CASE WHEN $2 = 'delivered' THEN now() END
		WHERE id = $1`, id, state, status, errText)
	if err != nil {
		l := w.Logger
		if l == nil {
			l = slog.Default()
		}
		l.Error("record callback attempt", "callback_event_id", id, "error", err)
	}
}

// CallbackPeriodicJobs dispatches pending callback events every five
// seconds.
func CallbackPeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(5*time.Second),
		func() (river.JobArgs, *river.InsertOpts) { return CallbackDispatchArgs{}, nil },
		&river.PeriodicJobOpts{ID: "callback_dispatch"})}
}

// AddCallbackWorkers registers the callback dispatcher and sender.
func AddCallbackWorkers(workers *river.Workers, pool *pgxpool.Pool, logger *slog.Logger) error {
	if err := river.AddWorkerSafely(workers, &CallbackDispatchWorker{Pool: pool}); err != nil {
		return err
	}
	return river.AddWorkerSafely(workers, &StatusCallbackWorker{Pool: pool, Logger: logger})
}
