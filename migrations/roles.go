package migrations

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppRole is the PostgreSQL role the serving process connects as. It owns
// nothing: it may read and write the operational tables, but only INSERT
// into and SELECT from the ledger tables, so it can neither rewrite
// evidence nor disable the append-only triggers (only a table's owner or a
// superuser can).
const AppRole = "courrier_app"

// LedgerTables are the append-only tables: evidence, and the Merkle tree
// and checkpoints that seal it.
var LedgerTables = []string{"delivery_events", "recipient_events", "ledger_leaves", "ledger_tree", "ledger_checkpoints",
	"ledger_chain", "ledger_seals"}

// GrantApp creates role (if missing, when create is true: LOGIN, no
// password, for a server that authenticates locally) and gives it, on the
// database owner connects to, exactly what serving needs: all rights on the
// operational tables and sequences, INSERT and SELECT only on LedgerTables,
// and pg_read_all_stats (the sealer reads the start of other sessions'
// transactions). Run it as the owner after every migration, so new tables
// are covered.
func GrantApp(ctx context.Context, owner *pgxpool.Pool, role string, create bool) error {
	id := pgx.Identifier{role}.Sanitize()
	if create {
		// Roles are cluster-wide: two databases may race to create it.
		if _, err := owner.Exec(ctx, `DO $$ BEGIN CREATE ROLE `+id+` LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
			EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`); err != nil {
			return fmt.Errorf("create role %s: %w", role, err)
		}
	}
	stmts := []string{
		`GRANT USAGE ON SCHEMA public TO ` + id,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + id,
		`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ` + id,
		`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ` + id,
	}
	for _, t := range LedgerTables {
		stmts = append(stmts, `REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON `+pgx.Identifier{t}.Sanitize()+` FROM `+id)
	}
	for _, s := range stmts {
		if _, err := owner.Exec(ctx, s); err != nil {
			return fmt.Errorf("grant %s: %w", role, err)
		}
	}
	if _, err := owner.Exec(ctx, `DO $$ BEGIN GRANT pg_read_all_stats TO `+id+`;
		EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_read_all_stats not granted: %', SQLERRM; END $$`); err != nil {
		return fmt.Errorf("grant pg_read_all_stats to %s: %w", role, err)
	}
	return nil
}
