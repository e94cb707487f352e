// Package channels sends rendered messages to beneficiaries: email over SMTP,
// SMS over Twilio, postal letters, and the outbox (files on disk) used when no
// provider is configured. It also decides the order in which channels are
// tried for a notice (routing and fallback) and when SMS may be sent (quiet
// hours).
package channels

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Name is a logical channel: what the beneficiary receives.
type Name string

// The logical channels.
const (
	Email  Name = "email"
	SMS    Name = "sms"
	Letter Name = "letter"
)

// Message is one rendered message for one beneficiary on one channel.
type Message struct {
	NoticeID   int64
	DeliveryID int64
	Kind       string // notice kind, e.g. "rights_opened"
	Channel    Name

	To     string // email address, E.164 phone number, or postal address block (letter)
	ToName string // display name for email, addressee line for letters

	Subject string // email only
	Text    string // plain-text body (email text part, SMS body, letter body)
	HTML    string // email only

	// UnsubscribeURL, when set, is advertised with List-Unsubscribe and
	// List-Unsubscribe-Post (RFC 8058). Only general mailings and outreach
	// carry one, never legal notices.
	UnsubscribeURL string

	// From and ReplyTo, when set, replace the email channel's configured
	// sender ("Caf de La Réunion <ne-pas-repondre@caf974.fr>"): the sender
	// identity of the beneficiary's Caf. Sender replaces the SMS sender ID
	// or number.
	From, ReplyTo, Sender string
	// Letterhead, when set, is the sender block of a letter (the Caf's
	// letterhead: its name, then its address lines), and Place the city of
	// its date line ("Saint-Denis, le …").
	Letterhead []string
	Place      string
	// Caf is the code of the beneficiary's Caf, for per-Caf rate limits.
	Caf string
}

// Receipt is what a channel returns once the provider accepted a message.
type Receipt struct {
	Provider  string // smtp, twilio, outbox, print
	MessageID string // the provider's id for the message
	// Delivered is true when acceptance is the final evidence the channel
	// will ever have (SMTP acceptance by the receiving server, outbox file
	// written, letter handed to print). SMS waits for a status callback.
	Delivered bool
	// Evidence names what Delivered rests on, e.g. "smtp_accepted" (with
	// the relay's reply when there is one).
	Evidence string
	// RelayReply is the SMTP relay's reduced final reply to DATA, e.g.
	// "250 2.0.0 Ok: queued as 4Xyz": the proof of handover.
	RelayReply string
}

// Channel sends messages. Implementations classify their errors with *Error.
type Channel interface {
	// Send hands msg to the provider. It returns a Receipt when the provider
	// accepted it, and an *Error (possibly wrapped) when it did not.
	Send(ctx context.Context, msg Message) (Receipt, error)
}

// Class says what the caller should do about a failed send.
type Class int

// The classes of send errors.
const (
	// Transient: retry later with backoff (SMTP 4xx, HTTP 5xx, network).
	Transient Class = iota
	// Permanent: never retry on this channel; try the next one.
	Permanent
	// Throttled: the provider asked us to slow down; retry after RetryAfter.
	Throttled
)

func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case Throttled:
		return "throttled"
	default:
		return "transient"
	}
}

// Error is a classified send error.
type Error struct {
	Class Class
	Code  string // provider code, e.g. "550" or "21211"
	Msg   string
	// RetryAfter is the provider's requested delay for Throttled errors.
	RetryAfter time.Duration
	// AddressRejected: the address itself is bad (SMTP 550/551/553, Twilio
	// 21211/21614); the recipient's contact must be marked undeliverable.
	AddressRejected bool
	// ConsentWithdrawn: the recipient opted out at the provider (Twilio 21610).
	ConsentWithdrawn bool
	Err              error
}

func (e *Error) Error() string {
	s := e.Class.String() + " error"
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Classify returns the *Error inside err. An unclassified error is transient.
func Classify(err error) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	return &Error{Class: Transient, Err: err}
}

// PermanentError returns a permanent *Error.
func PermanentError(code, format string, args ...any) *Error {
	return &Error{Class: Permanent, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// TransientError returns a transient *Error.
func TransientError(code, format string, args ...any) *Error {
	return &Error{Class: Transient, Code: code, Msg: fmt.Sprintf(format, args...)}
}
