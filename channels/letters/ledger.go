package letters

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courrier-dev/courrier/ledger"
)

// The ledger events of a letter, all written here.
//
//	print_queued  the letter is in a batch being built (detail: batch id, PDF SHA-256)
//	print_handed  the print house holds the batch (detail: batch id, PDF SHA-256); the
//	              delivery becomes delivered: this is the evidence level of a letter
//	printed       the print house's acknowledgement file says it printed the letter
//	posted        the print house's acknowledgement file says La Poste took it
//	returned      the letter came back (pli non distribué); the delivery becomes undelivered
const (
	EventQueued   = "print_queued"
	EventHanded   = "print_handed"
	EventPrinted  = "printed"
	EventPosted   = "posted"
	EventReturned = "returned"
)

// letterRef identifies a letter's delivery in the ledger.
type letterRef struct {
	DeliveryID, NoticeID int64
	SHA256               string
}

func ledgerQueued(ctx context.Context, tx pgx.Tx, batchID string, ls []letterRef, at time.Time) error {
	for _, l := range ls {
		if err := ledger.AppendEvent(ctx, tx, ledger.Event{DeliveryID: l.DeliveryID, NoticeID: l.NoticeID, Event: EventQueued,
			ProviderStatus: "batched", Detail: "batch " + batchID + " pdf_sha256 " + l.SHA256, OccurredAt: at}); err != nil {
			return err
		}
	}
	return nil
}

// ledgerHanded records the handover and settles each delivery as delivered
// through the ledger's own receipt rules (an event "delivered" follows).
func ledgerHanded(ctx context.Context, tx pgx.Tx, batchID, house string, ls []letterRef, at time.Time) error {
	for _, l := range ls {
		if err := ledger.AppendEvent(ctx, tx, ledger.Event{DeliveryID: l.DeliveryID, NoticeID: l.NoticeID, Event: EventHanded,
			ProviderStatus: "handed", Detail: "batch " + batchID + " to " + house + " pdf_sha256 " + l.SHA256, OccurredAt: at}); err != nil {
			return err
		}
		if _, err := ledger.RecordReceipt(ctx, tx, ledger.Receipt{Provider: "print", MessageID: Ref(l.DeliveryID),
			DeliveryID: l.DeliveryID, Status: "delivered", OccurredAt: at}); err != nil {
			return fmt.Errorf("letter %s handed: %w", Ref(l.DeliveryID), err)
		}
	}
	return nil
}

func ledgerReceipt(ctx context.Context, tx pgx.Tx, l letterRef, event, file string, at time.Time) error {
	return ledger.AppendEvent(ctx, tx, ledger.Event{DeliveryID: l.DeliveryID, NoticeID: l.NoticeID, Event: event,
		ProviderStatus: event, Detail: "print house file " + file, OccurredAt: at})
}

// ledgerReturned records returned mail and moves the delivery to
// undelivered (it may have been delivered: handed to print).
func ledgerReturned(ctx context.Context, tx pgx.Tx, l letterRef, reason, source string, at time.Time) error {
	if err := ledger.AppendEvent(ctx, tx, ledger.Event{DeliveryID: l.DeliveryID, NoticeID: l.NoticeID, Event: EventReturned,
		ProviderStatus: "returned", ErrorCode: reason, Detail: "returned mail (" + source + ")", OccurredAt: at}); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		UPDATE deliveries SET state = 'undelivered', error_code = $2, error = 'letter returned', final_at = $3, updated_at = now()
		WHERE id = $1`, l.DeliveryID, reason, at)
	if err != nil {
		return fmt.Errorf("letter %s returned: %w", Ref(l.DeliveryID), err)
	}
	return nil
}
