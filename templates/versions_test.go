package templates

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func TestVersionsReproducePastText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	in := Input{Recipient: SampleRecipient(), Data: SampleData(KindRightsOpened)}

	v1Set, err := Load(nil)
	require.NoError(t, err)
	first, err := v1Set.Render(KindRightsOpened, "email", in)
	require.NoError(t, err)
	require.NoError(t, v1Set.SaveVersion(ctx, db, first))
	require.NoError(t, v1Set.SaveVersion(ctx, db, first), "saving twice is a no-op")

	// The agency rewrites the template through the override directory.
	dir := t.TempDir()
	src, err := defaultFiles.ReadFile("defaults/rights_opened.email.tmpl")
	require.NoError(t, err)
	changed := strings.Replace(string(src), "nous avons le plaisir de vous informer", "nous vous confirmons", 2)
	require.NotEqual(t, string(src), changed)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rights_opened.email.tmpl"), []byte(changed), 0o644))
	v2Set, err := Load(&Options{OverrideDir: dir})
	require.NoError(t, err)
	second, err := v2Set.Render(KindRightsOpened, "email", in)
	require.NoError(t, err)
	require.NotEqual(t, first.Version, second.Version)
	require.NotEqual(t, first.Text, second.Text)
	require.Contains(t, second.Text, "nous vous confirmons")

	// Saved inside a transaction that commits.
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, v2Set.SaveVersion(ctx, tx, second))
	require.NoError(t, tx.Commit(ctx))

	var n int
	require.NoError(t, db.QueryRow(ctx,
		`SELECT count(*) FROM template_versions WHERE key = 'rights_opened' AND channel = 'email'`).Scan(&n))
	require.Equal(t, 2, n)

	// The first message is reproduced word for word from its stored source.
	again, err := RenderVersion(ctx, db, first.Version, in, DefaultAgency())
	require.NoError(t, err)
	require.Equal(t, first, again)
	again2, err := RenderVersion(ctx, db, second.Version, in, DefaultAgency())
	require.NoError(t, err)
	require.Equal(t, second, again2)

	_, err = RenderVersion(ctx, db, strings.Repeat("0", 64), in, DefaultAgency())
	require.ErrorIs(t, err, ErrUnknownVersion)
}

func TestSaveVersionRolledBackIsSavedAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	set, err := Load(nil)
	require.NoError(t, err)
	r, err := set.Render(KindReminderGeneric, "sms", Input{Recipient: SampleRecipient(), Data: SampleData(KindReminderGeneric)})
	require.NoError(t, err)

	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, set.SaveVersion(ctx, tx, r))
	require.NoError(t, tx.Rollback(ctx))

	tx, err = db.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, set.SaveVersion(ctx, tx, r))
	require.NoError(t, tx.Commit(ctx))

	var src string
	require.NoError(t, db.QueryRow(ctx, `SELECT source FROM template_versions WHERE version = $1`, r.Version).Scan(&src))
	require.Contains(t, src, "kind: reminder_generic")

	require.NoError(t, set.SaveAll(ctx, db))
	var n int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM template_versions`).Scan(&n))
	require.Equal(t, 45, n)
}
