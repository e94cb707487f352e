package ledger

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The fast encoder is byte for byte the encoding/json one.
func TestEncodeEventMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "0", " ", "<", ">", "&", "\"", "\\", "\n", "\t", "\x01", "é", "€", "\u2028", "\xff", "—", "'", "/"}
	str := func() string {
		n := r.IntN(12)
		s := ""
		for range n {
			s += alphabet[r.IntN(len(alphabet))]
		}
		return s
	}
	for range 2000 {
		e := Event{ID: r.Int64N(1 << 40), DeliveryID: r.Int64N(1000), NoticeID: r.Int64N(1000), Event: str(),
			ProviderStatus: str(), ErrorCode: str(), Detail: str(),
			OccurredAt: time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("X", 3600*r.IntN(5))),
			RecordedAt: time.Unix(r.Int64N(4e9), r.Int64N(1e3)*1000)}
		if r.IntN(3) > 0 {
			e.Facts = map[string]string{}
			for range r.IntN(6) {
				e.Facts[str()] = str()
			}
		}
		require.Equal(t, string(encodeEventReflect(e)), string(EncodeEvent(e)))
	}
}
