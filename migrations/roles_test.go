package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/migrations"
)

// The serving role can record and seal evidence, but not change it, nor
// switch off the triggers that refuse changes.
func TestAppRoleCannotRewriteTheLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	owner, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer owner.Close()
	require.NoError(t, migrations.GrantApp(ctx, owner, migrations.AppRole, true))
	require.NoError(t, migrations.GrantApp(ctx, owner, migrations.AppRole, true), "idempotent")

	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.ConnConfig.User = migrations.AppRole
	app, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer app.Close()

	// What serving does works.
	var rid, nid int64
	require.NoError(t, app.QueryRow(ctx, `INSERT INTO recipients (ref, email) VALUES ('R1', 'a@example.fr') RETURNING id`).Scan(&rid))
	require.NoError(t, app.QueryRow(ctx, `INSERT INTO notices (recipient_id, kind, template_key, idempotency_key) VALUES ($1, 'reminder', 'reminder', 'k') RETURNING id`, rid).Scan(&nid))
	_, err = app.Exec(ctx, `UPDATE notices SET state = 'sent' WHERE id = $1`, nid)
	require.NoError(t, err)
	priv, _, err := ledger.GenerateKey("courrier-test")
	require.NoError(t, err)
	key, err := ledger.ParseKey(priv)
	require.NoError(t, err)
	n, err := ledger.Seal(ctx, app, ledger.SealOptions{Key: key, Settle: time.Nanosecond})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	res, err := ledger.Verify(ctx, app, ledger.VerifyOptions{Verifier: key.Verifier})
	require.NoError(t, err)
	require.True(t, res.OK, "%v", res.Breaks)

	// What would rewrite evidence is refused by privilege, not only by trigger.
	for _, table := range migrations.LedgerTables {
		for _, sql := range []string{
			`UPDATE ` + table + ` SET ` + firstColumn(t, owner, table) + ` = ` + firstColumn(t, owner, table),
			`DELETE FROM ` + table,
			`TRUNCATE ` + table,
			`ALTER TABLE ` + table + ` DISABLE TRIGGER ALL`,
		} {
			_, err := app.Exec(ctx, sql)
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr, sql)
			require.Equal(t, "42501", pgErr.Code, sql) // insufficient_privilege
			require.NotContains(t, err.Error(), "append-only", sql, "refused by privilege, before any trigger")
		}
	}
	_, err = app.Exec(ctx, `SET session_replication_role = replica`)
	require.ErrorContains(t, err, "permission denied")
}

func firstColumn(t *testing.T, db *pgxpool.Pool, table string) string {
	var col string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT column_name FROM information_schema.columns
		WHERE table_name = $1 ORDER BY ordinal_position LIMIT 1`, table).Scan(&col))
	return col
}
