package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
	"github.com/courrier-dev/courrier/territories"
)

// DeliverArgs asks for one notice to be delivered.
type DeliverArgs struct {
	NoticeID int64 `json:"notice_id"`
}

// Kind is the River job kind.
func (DeliverArgs) Kind() string { return "deliver" }

// InsertOpts: deliveries retry for about a day and a half before the channel
// is given up for the next one.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 12}
}

// Schedule says when SMS may be sent to a beneficiary living under cal;
// see channels.QuietHours.
type Schedule interface {
	NextIn(t time.Time, cal territories.Calendar) time.Time
}

// Deps is what the delivery workers need.
type Deps struct {
	Pool      *pgxpool.Pool
	Templates *templates.Set
	// Channels maps each logical channel to its implementation. A channel
	// missing here is "not configured" and skipped by routing.
	Channels map[channels.Name]channels.Channel
	// Outbox receives every message of a test notice (test API keys).
	Outbox channels.Channel
	Routes channels.Routes
	// Quiet defers SMS outside allowed hours; nil allows any time.
	Quiet Schedule
	// Calendar is the beneficiary's calendar (time zone, local holidays,
	// their Caf's closures) for quiet hours; nil means the territory's.
	Calendar func(*recipients.Recipient) territories.Calendar
	// Agencies are the Cafs: each beneficiary's messages carry their Caf's
	// data and sender identity and follow its routes. Nil: one agency, the
	// templates' own.
	Agencies *agencies.Set
	// Unsubscribe builds the one-click unsubscribe URL of a bulk message;
	// nil means none is advertised.
	Unsubscribe func(recipientID int64, kind string) string
	Now         func() time.Time
	Logger      *slog.Logger
	// KeepBatchContent stores the rendered text of campaign batches in the
	// deliveries (as the single path always does) instead of only its hash.
	KeepBatchContent bool
	// BatchParallelism is how many messages of a batch are sent at once.
	// Default 8; match it to the SMTP connection pool.
	BatchParallelism int
	// SendingLease is how long a delivery marked sending belongs to the
	// worker that marked it; after that a crash is assumed and it is sent
	// again (the documented duplicate window). Defaults to RescueAfter, the
	// delay after which River hands a dead process's jobs to another.
	SendingLease time.Duration
	// Letters is the print batch configuration (cut-off job, demo); nil
	// when letters are not batched.
	Letters *LetterConfig
	// Rates are the channels' per-process rate limits; with BulkWorkers
	// they set a batch's timeout and the size it is cut to.
	Rates Rates
	// BulkWorkers is the number of batches worked at once in this process
	// (set by NewClient).
	BulkWorkers int
	// InFlight caps, per channel, the messages this process has sent or is
	// sending whose outcome is not yet committed (0: no cap). Set it to the
	// SMTP connection count: a crash then duplicates at most one message per
	// connection.
	InFlight map[channels.Name]int

	slotsMu sync.Mutex
	slots   map[channels.Name]chan struct{}
	// outcomes is the process's group commit of batch outcomes (see
	// recordOutcome): every batch's senders share it.
	outcomes groupCommit
}

// quietNext is the first instant at or after now when an SMS may be sent to r.
func (d *Deps) quietNext(r *recipients.Recipient, now time.Time) time.Time {
	if d.Quiet == nil {
		return now
	}
	return d.Quiet.NextIn(now, d.calendar(r))
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deps) lease() time.Duration {
	if d.SendingLease > 0 {
		return d.SendingLease
	}
	return RescueAfter()
}

// DeliverWorker works DeliverArgs.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	Deps *Deps
}

// Work delivers the notice through the first usable channel of its route,
// falling back to the next channel on a permanent failure.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	lastAttempt := job.Attempt >= job.MaxAttempts
	if err := w.Deps.deliver(ctx, job.Args.NoticeID, lastAttempt); err != nil {
		return err
	}
	return w.Deps.completeCampaignOf(context.WithoutCancel(ctx), job.Args.NoticeID)
}

// completeCampaignOf completes the campaign of the notice if it was its last
// one to go out: a campaign whose stragglers went through single jobs
// completes when the last of them does, not at the next calendar pass.
func (d *Deps) completeCampaignOf(ctx context.Context, noticeID int64) error {
	var campaignID int64
	err := d.Pool.QueryRow(ctx, `SELECT campaign_id FROM notices WHERE id = $1 AND campaign_id IS NOT NULL
		AND state NOT IN ('pending', 'sending')`, noticeID).Scan(&campaignID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("campaign of notice %d: %w", noticeID, err)
	}
	if _, err := campaigns.CompleteIfDone(ctx, d.Pool, campaignID); err != nil {
		return fmt.Errorf("complete campaign %d: %w", campaignID, err)
	}
	return nil
}

// outcome tells Work how the job ends: snoozed, cancelled, retried or done.
type outcome struct {
	snooze time.Duration
	retry  error
	cancel error
}

func (d *Deps) deliver(ctx context.Context, noticeID int64, lastAttempt bool) error {
	// Each pass either finishes the notice, or sends on one channel; a
	// permanent failure loops to the next channel of the route.
	for range 8 {
		res, again, err := d.deliverOnce(ctx, noticeID, lastAttempt)
		if err != nil {
			return err
		}
		if again {
			continue
		}
		switch {
		case res.snooze > 0:
			return river.JobSnooze(res.snooze)
		case res.cancel != nil:
			return river.JobCancel(res.cancel)
		case res.retry != nil:
			return res.retry
		}
		return nil
	}
	return fmt.Errorf("notice %d: too many fallbacks", noticeID)
}

// deliverOnce makes one send attempt. again is true when the caller should
// immediately try the next channel.
func (d *Deps) deliverOnce(ctx context.Context, noticeID int64, lastAttempt bool) (res outcome, again bool, err error) {
	now := d.now()
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return res, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()

	n, err := notices.GetForUpdate(ctx, tx, noticeID)
	if err != nil {
		if errors.Is(err, notices.ErrNotFound) {
			return outcome{cancel: err}, false, nil
		}
		return res, false, err
	}
	if notices.Done(n.State) || n.State == notices.StateSent {
		return res, false, nil // already delivered, or waiting for the provider's receipt
	}
	rcpt, err := recipients.Get(ctx, tx, n.RecipientID)
	if err != nil {
		return res, false, err
	}
	existing, err := ledger.DeliveriesForNotice(ctx, tx, n.ID)
	if err != nil {
		return res, false, err
	}
	byChannel := map[string]ledger.Delivery{}
	for _, dl := range existing {
		byChannel[dl.Channel] = dl
	}

	steps, skipped := channels.Plan(d.route(rcpt, string(n.Kind)), contactOf(rcpt), n.Kind.Bulk())
	var step *channels.Step
	var ch channels.Channel
	for i := range steps {
		s := steps[i]
		if dl, ok := byChannel[string(s.Channel)]; ok {
			switch dl.State {
			case ledger.StateSent, ledger.StateDelivered:
				// Satisfied already (the notice state lags only after a crash).
				return res, false, finish(ctx, tx, n.ID, notices.StateSent, string(s.Channel), "", now)
			case ledger.StateSending:
				if dl.SendingAt != nil && now.Sub(*dl.SendingAt) < d.lease() {
					return outcome{snooze: d.lease()}, false, tx.Commit(ctx)
				}
			case ledger.StatePending:
			default: // failed, undelivered, bounced, unknown: this channel is spent
				skipped = append(skipped, string(s.Channel)+": "+describeFailure(dl))
				continue
			}
		}
		impl := d.Channels[s.Channel]
		if n.Test {
			impl = d.Outbox
		}
		if impl == nil {
			skipped = append(skipped, string(s.Channel)+": channel not configured")
			continue
		}
		step, ch = &s, impl
		break
	}
	if step == nil {
		reason := "no usable channel: " + strings.Join(skipped, "; ")
		if len(skipped) == 0 {
			reason = "no usable channel: empty route"
		}
		d.log().Warn("notice has no route", "notice_id", n.ID, "kind", n.Kind, "reason", reason)
		return res, false, finish(ctx, tx, n.ID, notices.StateNoRoute, "", reason, now)
	}

	if step.Channel == channels.SMS {
		if next := d.quietNext(rcpt, now); next.After(now) {
			return outcome{snooze: next.Sub(now)}, false, tx.Commit(ctx)
		}
	}

	rendered, err := d.Templates.Render(n.TemplateKey, string(step.Channel), d.input(rcpt, n.Data))
	if err != nil {
		reason := "render failed: " + err.Error()
		var re *templates.RenderError
		if !errors.As(err, &re) {
			return res, false, fmt.Errorf("notice %d: %s", n.ID, reason)
		}
		d.log().Error("notice cannot be rendered", "notice_id", n.ID, "template", n.TemplateKey, "channel", step.Channel, "error", err)
		if err := finish(ctx, tx, n.ID, notices.StateFailed, "", reason, now); err != nil {
			return res, false, err
		}
		return outcome{cancel: errors.New(reason)}, false, nil
	}
	if err := d.Templates.SaveVersion(ctx, tx, rendered); err != nil {
		return res, false, err
	}
	provider := providerName(ch)
	deliveryID, _, err := ledger.StartAttempt(ctx, tx, ledger.Attempt{
		NoticeID: n.ID, Channel: string(step.Channel), Provider: provider, Address: step.Address,
		TemplateVersion: rendered.Version,
		Content:         ledger.Content{Subject: rendered.Subject, Text: rendered.Text, HTML: rendered.HTML},
		At:              now,
	})
	if err != nil {
		return res, false, err
	}
	if err := notices.SetState(ctx, tx, n.ID, notices.StateSending, "", "", now); err != nil {
		return res, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return res, false, err
	}

	msg := channels.Message{
		NoticeID: n.ID, DeliveryID: deliveryID, Kind: string(n.Kind), Channel: step.Channel,
		To: step.Address, ToName: rcpt.DisplayName(),
		Subject: rendered.Subject, Text: rendered.Text, HTML: rendered.HTML,
	}
	d.sender(rcpt, &msg)
	if n.Kind.Bulk() && step.Channel == channels.Email && d.Unsubscribe != nil {
		msg.UnsubscribeURL = d.Unsubscribe(rcpt.ID, string(n.Kind))
	}
	release := d.slot(step.Channel)
	defer release()
	receipt, sendErr := ch.Send(ctx, msg)
	err = retryDB(recordUntil(ctx), func() (err error) {
		res, again, err = d.record(ctx, n, rcpt.ID, deliveryID, step.Channel, receipt, sendErr, lastAttempt)
		return err
	})
	return res, again, err
}

// record writes the outcome of a send.
func (d *Deps) record(ctx context.Context, n *notices.Notice, recipientID, deliveryID int64, ch channels.Name,
	receipt channels.Receipt, sendErr error, lastAttempt bool) (res outcome, again bool, err error) {
	// Record even if the job's context was cancelled after the provider
	// accepted: losing this write is what would cause a duplicate.
	ctx = context.WithoutCancel(ctx)
	now := d.now()
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return res, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()

	if sendErr == nil {
		state, err := ledger.Accepted(ctx, tx, deliveryID, n.ID, receipt.MessageID, receipt.Delivered, receipt.Evidence, now)
		if err != nil {
			return res, false, err
		}
		if receipt.RelayReply != "" {
			if err := ledger.SetRelayReplies(ctx, tx, []ledger.RelayReply{{DeliveryID: deliveryID, Reply: receipt.RelayReply}}); err != nil {
				return res, false, err
			}
		}
		noticeState := notices.StateSent
		if state == ledger.StateDelivered {
			noticeState = notices.StateDelivered
		}
		if err := notices.SetState(ctx, tx, n.ID, noticeState, string(ch), "", now); err != nil {
			return res, false, err
		}
		return res, false, tx.Commit(ctx)
	}

	ce := channels.Classify(sendErr)
	d.log().Warn("send failed", "notice_id", n.ID, "delivery_id", deliveryID, "channel", ch,
		"class", ce.Class.String(), "code", ce.Code)
	switch {
	case ce.Class == channels.Permanent || (ce.Class == channels.Transient && lastAttempt):
		if err := ledger.Failed(ctx, tx, deliveryID, n.ID, true, ce.Code, ce.Error(), now); err != nil {
			return res, false, err
		}
		if err := markContact(ctx, tx, recipientID, ch, ce); err != nil {
			return res, false, err
		}
		if err := notices.SetState(ctx, tx, n.ID, notices.StatePending, "", "", now); err != nil {
			return res, false, err
		}
		return res, true, tx.Commit(ctx)
	case ce.Class == channels.Throttled:
		if err := ledger.Failed(ctx, tx, deliveryID, n.ID, false, ce.Code, ce.Error(), now); err != nil {
			return res, false, err
		}
		wait := ce.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		return outcome{snooze: wait}, false, tx.Commit(ctx)
	default:
		if err := ledger.Failed(ctx, tx, deliveryID, n.ID, false, ce.Code, ce.Error(), now); err != nil {
			return res, false, err
		}
		return outcome{retry: fmt.Errorf("notice %d on %s: %w", n.ID, ch, sendErr)}, false, tx.Commit(ctx)
	}
}

func markContact(ctx context.Context, tx pgx.Tx, recipientID int64, ch channels.Name, ce *channels.Error) error {
	switch {
	case ce.ConsentWithdrawn && ch == channels.SMS:
		return recipients.WithdrawSMSConsent(ctx, tx, recipientID, "provider error "+ce.Code)
	case ce.AddressRejected && ch == channels.Email:
		return recipients.MarkEmailUndeliverable(ctx, tx, recipientID, "provider error "+ce.Code)
	case ce.AddressRejected && ch == channels.SMS:
		return recipients.MarkPhoneUndeliverable(ctx, tx, recipientID, "provider error "+ce.Code)
	}
	return nil
}

func finish(ctx context.Context, tx pgx.Tx, noticeID int64, state, channel, reason string, now time.Time) error {
	if err := notices.SetState(ctx, tx, noticeID, state, channel, reason, now); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func describeFailure(dl ledger.Delivery) string {
	s := dl.State
	if dl.ErrorCode != "" {
		s += " (" + dl.ErrorCode + ")"
	}
	return s
}

func contactOf(r *recipients.Recipient) channels.Contact {
	c := channels.Contact{
		Email: r.Email, EmailOK: r.EmailStatus == "ok",
		Phone: r.Phone, PhoneMobile: r.PhoneType == "mobile", PhoneOK: r.PhoneStatus == "ok",
		ConsentEmail: r.ConsentEmail, ConsentSMS: r.ConsentSMS, ConsentLetter: r.ConsentLetter,
		OutreachOptOut: r.OutreachOptOut,
	}
	if r.HasPostalAddress() {
		c.PostalAddress = r.PostalAddress()
		c.PostalUndeliverable = r.AddressStatus == "undeliverable"
	}
	return c
}

// Provider is implemented by channels that name their provider up front.
type Provider interface{ Provider() string }

func providerName(ch channels.Channel) string {
	if p, ok := ch.(Provider); ok {
		return p.Provider()
	}
	if u, ok := ch.(interface{ Unwrap() channels.Channel }); ok {
		return providerName(u.Unwrap())
	}
	switch ch.(type) {
	case *channels.Outbox:
		return "outbox"
	case *channels.SMTP:
		return "smtp"
	case *channels.Twilio:
		return "twilio"
	}
	return fmt.Sprintf("%T", ch)
}

func (d *Deps) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}
