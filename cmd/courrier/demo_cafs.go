package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/agencies"
)

// demoCafs counts the demo beneficiaries per Caf, named from the agency
// file: "751 Caf de Paris: 32, 974 Caf de La Réunion: 18".
func demoCafs(ctx context.Context, pool *pgxpool.Pool, set *agencies.Set, ids []int64) (string, error) {
	rows, err := pool.Query(ctx, `SELECT coalesce(caf, ''), count(*) FROM recipients WHERE id = ANY($1) GROUP BY 1 ORDER BY 1`, ids)
	if err != nil {
		return "", err
	}
	type count struct {
		Caf string
		N   int
	}
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[count])
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(counts))
	for _, c := range counts {
		name := "no Caf"
		if a := set.Get(c.Caf); a != nil {
			name = c.Caf + " " + a.Name
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, c.N))
	}
	return strings.Join(parts, ", "), nil
}

func printDemoCafs(w io.Writer, line string) {
	if line != "" {
		fmt.Fprintf(w, "Beneficiaries per Caf (COURRIER_AGENCIES): %s\n\n", line)
	}
}
