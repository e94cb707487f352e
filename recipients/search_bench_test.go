package recipients

import (
	"context"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

// seedNames fills recipients with n beneficiaries whose names mix common
// French given and family names, accents included, in one generate_series
// statement; the search index is built after the rows, as a bulk load would.
func seedNames(b *testing.B, db *pgxpool.Pool, n int) {
	b.Helper()
	ctx := context.Background()
	for _, sql := range []string{
		`DROP INDEX recipients_search_trgm_idx`,
		`INSERT INTO recipients (ref, civility, given_name, family_name, email, phone, postal_code, city)
		 SELECT lpad(g::text, 8, '0'),
		        CASE WHEN g % 2 = 0 THEN 'Mme' ELSE 'M.' END,
		        gn[1 + (g * 7) % array_length(gn, 1)],
		        fn[1 + (g * 13) % array_length(fn, 1)] || CASE WHEN g % 5 = 0 THEN '-' || fn[1 + (g / 7) % array_length(fn, 1)] ELSE '' END,
		        'a' || g || '@exemple.fr',
		        '+336' || lpad((g * 37 % 100000000)::text, 8, '0'),
		        lpad((1000 + (g * 11) % 95000)::text, 5, '0'), 'Ville'
		 FROM generate_series(1, $1::int) g,
		      (SELECT ARRAY['Hélène','Jérôme','François','Zoé','Loïc','Amélie','Noël','Cécile','Stéphane','Maël',
		                    'Anaïs','Gaëlle','Léa','Inès','Théo','Chloé','Raphaël','Benoît','Agnès','Joël',
		                    'Marie','Jean','Pierre','Sophie','Nicolas','Julie','Camille','Lucas','Emma','Hugo'] AS gn,
		              ARRAY['Lefèvre','Dupré','Müller','Guérin','André','Gérard','Noël','Pérez','Prévost','Rémy',
		                    'Martin','Bernard','Dubois','Thomas','Robert','Richard','Petit','Durand','Leroy','Moreau',
		                    'Simon','Laurent','Lefebvre','Michel','Garcia','David','Bertrand','Roux','Vincent','Fournier',
		                    'Morel','Girard','Mercier','Dupont','Lambert','Bonnet','François','Martinez','Legrand','Garnier',
		                    'Faure','Rousseau','Blanc','Henry','Roussel','Nicolas','Perrin','Morin','Mathieu','Clément',
		                    'Gauthier','Dumont','Lopez','Fontaine','Chevalier','Robin','Masson','Sanchez','Nguyen','Boyer',
		                    'Denis','Lemaire','Duval','Joly','Gautier','Roger','Roche','Roy','Meyer','Lucas',
		                    'Meunier','Marchand','Dufour','Blanchard','Barbier','Brun','Dumas','Brunet','Schmitt','Leroux',
		                    'Colin','Fernandez','Renard','Arnaud','Rolland','Caron','Aubert','Giraud','Leclerc','Vidal',
		                    'Bourgeois','Renaud','Lemoine','Picard','Gaillard','Lacroix','Fabre','Dupuis','Olivier','Hubert',
		                    'Rivière','Le Gall','Guillaume','Moulin','Berger','Lecomte','Ménard','Fleury','Deschamps','Carpentier',
		                    'Benoît','Maillard','Marchal','Aubry','Vasseur','Le Roux','Renault','Jacquet','Collet','Poirier',
		                    'Charpentier','Royer','Huet','Baron','Dupuy','Pons','Carré','Breton','Perrot','Guyot'] AS fn) names`,
		`CREATE INDEX recipients_search_trgm_idx ON recipients USING gin (search_text gin_trgm_ops)`,
		`ANALYZE recipients`,
	} {
		var err error
		if sql[0] == 'I' {
			_, err = db.Exec(ctx, sql, n)
		} else {
			_, err = db.Exec(ctx, sql)
		}
		if err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
}

// benchSize is 20,000 beneficiaries by default and 1,000,000 with
// COURRIER_BENCH_1M=1 (the performance target's size).
func benchSize() int {
	if os.Getenv("COURRIER_BENCH_1M") == "1" {
		return 1_000_000
	}
	return 20_000
}

// BenchmarkSearch measures accent-insensitive partial name searches (first
// page of 50) and reports their p50 and p99 latency. Target: p99 < 100 ms
// at 1,000,000 beneficiaries.
func BenchmarkSearch(b *testing.B) {
	db := pgtest.New(b)
	seedNames(b, db, benchSize())
	ctx := context.Background()
	queries := []string{"helene lefev", "lefevre", "dupre", "jerome guer", "francois", "zoe muller", "maël",
		"noel perez", "prevost", "anais le gall", "06 12 34", "00012345", "rivier", "benoit"}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := Search(ctx, db, queries[i%len(queries)], nil); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
