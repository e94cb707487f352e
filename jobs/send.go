package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/templates"
)

// OneNotice is a notice of any kind to one beneficiary, asked for by
// staff (`courrier send`, the console).
type OneNotice struct {
	RecipientRef string
	Kind         notices.Kind
	Data         map[string]any
	// Key makes the operation idempotent: the same key creates nothing new.
	Key      string
	Operator string
	Test     bool
}

// ErrNoSuchRecipient is returned by SendNotice for an unknown beneficiary
// number.
var ErrNoSuchRecipient = errors.New("no such beneficiary")

// SendNotice checks n by rendering every channel of its kind's route (so
// that nothing half-valid is enqueued: a missing field or an amount with
// three decimals is an error naming the field), then enqueues the notice
// and its deliver job. created is false when the key was used before.
func SendNotice(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], set *templates.Set, routes channels.Routes, n OneNotice) (id int64, created bool, err error) {
	var missing []string
	for name, v := range map[string]string{"recipient": n.RecipientRef, "kind": string(n.Kind), "key": n.Key, "operator": n.Operator} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return 0, false, fmt.Errorf("%s required", strings.Join(missing, ", "))
	}
	if !n.Kind.Valid() {
		return 0, false, fmt.Errorf("kind %q is not a notice kind", n.Kind)
	}
	if n.Data == nil {
		n.Data = map[string]any{}
	}
	r, err := recipients.GetByRef(ctx, pool, n.RecipientRef)
	if errors.Is(err, recipients.ErrNotFound) {
		return 0, false, fmt.Errorf("recipient %q: %w", n.RecipientRef, ErrNoSuchRecipient)
	} else if err != nil {
		return 0, false, err
	}
	in := templates.Input{Recipient: templates.Recipient{Ref: r.Ref, Civility: r.Civility, GivenName: r.GivenName, FamilyName: r.FamilyName}, Data: n.Data}
	for _, ch := range routes.For(string(n.Kind)) {
		if !set.Has(string(n.Kind), string(ch)) {
			continue
		}
		if _, err := set.Render(string(n.Kind), string(ch), in); err != nil {
			return 0, false, fmt.Errorf("data: %w", err)
		}
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		id, created, err = EnqueueNotice(ctx, tx, client, notices.New{
			RecipientID: r.ID, Kind: n.Kind, Data: n.Data, IdempotencyKey: "cli:" + n.Key, CreatedBy: "cli/" + n.Operator, Test: n.Test,
		}, nil)
		return err
	})
	return id, created, err
}
