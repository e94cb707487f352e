package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
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
	b := make([]byte, 0, 256+64*len(e.Facts))
	b = append(b, `{"v":2,"id":`...)
	b = strconv.AppendInt(b, e.ID, 10)
	b = append(b, `,"delivery_id":`...)
	b = strconv.AppendInt(b, e.DeliveryID, 10)
	b = append(b, `,"notice_id":`...)
	b = strconv.AppendInt(b, e.NoticeID, 10)
	b = append(b, `,"event":`...)
	b = appendString(b, e.Event)
	b = append(b, `,"provider_status":`...)
	b = appendString(b, e.ProviderStatus)
	b = append(b, `,"error_code":`...)
	b = appendString(b, e.ErrorCode)
	b = append(b, `,"detail":`...)
	b = appendString(b, e.Detail)
	b = append(b, `,"occurred_at":"`...)
	b = e.OccurredAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","recorded_at":"`...)
	b = e.RecordedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","facts":{`...)
	keys := make([]string, 0, len(e.Facts))
	for k := range e.Facts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, e.Facts[k])
	}
	return append(b, "}}"...)
}

// appendString appends s as a JSON string exactly as encoding/json does
// with HTML escaping off: plain printable ASCII directly, anything else
// through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s)
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// encodeEventReflect is the reference encoding, by encoding/json (tests).
func encodeEventReflect(e Event) []byte {
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
