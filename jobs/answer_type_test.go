package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/requests"
)

// TestAnswerNamesTheRequestTypeStoredAtReceipt: the answer says "votre
// demande d'aide au logement" as the acknowledgement did, not the generic
// "demande de prestation" (issue 16).
func TestAnswerNamesTheRequestTypeStoredAtReceipt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rid := b.recipient(t, "3000001", nil)
	received := time.Date(2027, 3, 12, 18, 0, 0, 0, time.UTC)
	var answer *RequestResult
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := ReceiveRequest(ctx, tx, b.client, requests.New{ExternalID: "DEM-T1", RecipientID: rid,
			Kind: requests.KindBenefitClaim, ReceivedAt: received, CreatedBy: "test"}, "demande d'aide au logement",
			requests.Settings{}, false, received); err != nil {
			return err
		}
		var err error
		answer, err = AnswerRequest(ctx, tx, b.client, "DEM-T1", Answer{Text: "Accordée.", CreatedBy: "agent"}, received.Add(time.Hour))
		return err
	}))
	n, err := notices.Get(ctx, b.pool, answer.NoticeID)
	require.NoError(t, err)
	require.Equal(t, "demande d'aide au logement", n.Data["request_type"])
}
