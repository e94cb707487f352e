package bounce

import (
	"context"
	"sync/atomic"
)

// Inbound is one message received by an intake.
type Inbound struct {
	Raw []byte
	// DeliveryIDs are the deliveries named by the verified VERP recipients
	// of the SMTP envelope; nil for IMAP, where the recorder reads the
	// return path from the headers.
	DeliveryIDs []int64
	// IMAP identifies the message in its mailbox, so that the recorder can
	// remember it in the same transaction as its effects; nil for SMTP.
	IMAP *IMAPKey
}

// IMAPKey identifies one message of one mailbox for ever (RFC 9051 §2.3.1.1).
type IMAPKey struct {
	Mailbox     string
	UIDValidity uint32
	UID         uint32
}

// Handler records what an inbound message says. An error means "not
// recorded, try again later": the SMTP listener answers 451 and the IMAP
// poller leaves the message for its next pass.
type Handler func(ctx context.Context, in Inbound) error

// Counters are an intake's totals since start, for metrics and tests.
type Counters struct {
	Received atomic.Int64 // messages handed to the Handler and recorded
	Failed   atomic.Int64 // messages the Handler could not record (retried later)
	Forged   atomic.Int64 // recipients with our VERP shape whose tag did not verify
	Refused  atomic.Int64 // recipients that are not VERP addresses at all
}
