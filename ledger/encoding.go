package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
)

// EncodingVersion is the "v" of the canonical encoding of events.
const EncodingVersion = 2

// encodedEvent is the canonical encoding's layout: keys in this order, facts
// with their keys sorted (encoding/json sorts map keys).
type encodedEvent struct {
	V              int               `json:"v"`
	ID             int64             `json:"id"`
	DeliveryID     int64             `json:"delivery_id"`
	NoticeID       int64             `json:"notice_id"`
	Event          string            `json:"event"`
	ProviderStatus string            `json:"provider_status"`
	ErrorCode      string            `json:"error_code"`
	Detail         string            `json:"detail"`
	OccurredAt     string            `json:"occurred_at"`
	RecordedAt     string            `json:"recorded_at"`
	Facts          map[string]string `json:"facts"`
}

// EncodeEvent returns the canonical encoding of e, the bytes a Merkle leaf
// hashes: a JSON object without whitespace, keys v, id, delivery_id,
// notice_id, event, provider_status, error_code, detail, occurred_at,
// recorded_at, facts in this order (0 for a missing delivery or notice),
// strings escaped as by Go's encoding/json without HTML escaping, times in
// UTC in RFC 3339 with trailing fractional zeros trimmed, facts an object
// of strings with its keys sorted. docs/evidence-format.md is the reference.
func EncodeEvent(e Event) []byte {
	facts := e.Facts
	if facts == nil {
		facts = map[string]string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(encodedEvent{EncodingVersion, e.ID, e.DeliveryID, e.NoticeID, e.Event, e.ProviderStatus, e.ErrorCode, e.Detail,
		e.OccurredAt.UTC().Format(time.RFC3339Nano), e.RecordedAt.UTC().Format(time.RFC3339Nano), facts})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// DecodeEvent parses a canonical encoding back into an event. It refuses
// bytes that are not exactly the canonical encoding of what they hold.
func DecodeEvent(b []byte) (Event, error) {
	var x encodedEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if x.V != EncodingVersion {
		return Event{}, fmt.Errorf("decode event: encoding version %d, want %d", x.V, EncodingVersion)
	}
	occ, err := time.Parse(time.RFC3339Nano, x.OccurredAt)
	if err != nil {
		return Event{}, fmt.Errorf("decode event %d: occurred_at: %w", x.ID, err)
	}
	rec, err := time.Parse(time.RFC3339Nano, x.RecordedAt)
	if err != nil {
		return Event{}, fmt.Errorf("decode event %d: recorded_at: %w", x.ID, err)
	}
	e := Event{ID: x.ID, DeliveryID: x.DeliveryID, NoticeID: x.NoticeID, Event: x.Event, ProviderStatus: x.ProviderStatus,
		ErrorCode: x.ErrorCode, Detail: x.Detail, OccurredAt: occ, RecordedAt: rec, Facts: x.Facts}
	if len(e.Facts) == 0 {
		e.Facts = nil
	}
	if !bytes.Equal(EncodeEvent(e), b) {
		return Event{}, fmt.Errorf("decode event %d: not in canonical form", x.ID)
	}
	return e, nil
}

// LeafHash is the RFC 6962 leaf hash of e: SHA-256(0x00 ‖ EncodeEvent(e)).
func LeafHash(e Event) []byte {
	return rfc6962.DefaultHasher.HashLeaf(EncodeEvent(e))
}
