package ledger

import "strings"

// Evidence strengths. A compliance report counts a notice as delivered on a
// proven level, and on a weak level only when its configuration accepts that
// level (compliance.Period.Accept).
const (
	Proven = "proven" // final provider receipt, print-house handover, no bounce within the wait
	Weak   = "weak"   // accepted by a relay or written to the outbox: handed over, not proven
)

// Evidence levels named by ledger events.
const (
	EvidenceTwilioDelivered   = "twilio_delivered"   // Twilio "delivered" status callback (handset receipt)
	EvidencePresumedDelivered = "presumed_delivered" // email accepted, no bounce within the wait (bounce work)
	EvidencePrintHanded       = "print_handed"       // letter handed over to the print house (letters work)
	EvidenceSMTPAccepted      = "smtp_accepted"      // accepted by the receiving mail relay
	EvidenceOutboxFile        = "outbox_file"        // development outbox file: never delivery outside a demo
)

// EvidenceLevels maps each evidence level an event can carry to its
// strength. An event's level is its "evidence" fact, or for a provider
// receipt "<provider>_<status>", or the event's own name; levels not listed
// here are not evidence of delivery. Adding a channel's evidence is adding a
// line here.
var EvidenceLevels = map[string]string{
	EvidenceTwilioDelivered:   Proven,
	EvidencePresumedDelivered: Proven,
	EvidencePrintHanded:       Proven,
	EvidenceSMTPAccepted:      Weak,
	EvidenceOutboxFile:        Weak,
}

// RevokingEvents are the events that withdraw earlier evidence of delivery
// of the same notice: a bounce after acceptance, a letter returned to
// sender after handover. A later evidence event proves delivery again.
var RevokingEvents = map[string]bool{
	StateBounced:   true, // EventBounced: a hard bounce (bounces.go)
	"soft_bounced": true, // EventSoftBounced: the relay gave up
	"returned":     true, // a letter returned to sender
}

// EvidenceOf returns the evidence level e carries, or "" if it carries none.
func EvidenceOf(e Event) string {
	if lvl := e.Facts["evidence"]; lvl != "" {
		if _, ok := EvidenceLevels[lvl]; ok {
			return lvl
		}
		return ""
	}
	if p := e.Facts["provider"]; p != "" && e.ProviderStatus != "" {
		if lvl := p + "_" + e.ProviderStatus; EvidenceLevels[lvl] != "" {
			return lvl
		}
	}
	if EvidenceLevels[e.Event] != "" {
		return e.Event
	}
	// Events recorded before they carried facts (migration 0010): an
	// acceptance named its evidence in detail, a Twilio receipt was
	// "twilio receipt" with its status.
	if len(e.Facts) == 0 {
		if lvl, _, _ := strings.Cut(e.Detail, ": "); e.Event == StateDelivered && EvidenceLevels[lvl] != "" {
			return lvl
		}
		if p, ok := strings.CutSuffix(e.Detail, " receipt"); ok && e.ProviderStatus != "" && EvidenceLevels[p+"_"+e.ProviderStatus] != "" {
			return p + "_" + e.ProviderStatus
		}
	}
	return ""
}
