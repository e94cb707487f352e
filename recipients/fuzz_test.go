package recipients

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"unicode"

	"github.com/courrier-dev/courrier/internal/pgtest"
)

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"lea.dupre@Exemple.FR", " jean@exemple.fr ", "a@b", "x@[127.0.0.1]", "é@exémple.fr",
		"lea@@exemple.fr", "\"quoted\"@exemple.fr", "a\x00@exemple.fr", "a@exemple.fr\r\nBcc: x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizeEmail(raw)
		if err != nil {
			return
		}
		if strings.ContainsFunc(got, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			t.Fatalf("NormalizeEmail(%q) = %q: spaces or control characters", raw, got)
		}
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, got, again, err)
		}
	})
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"06 12 34 56 78", "+33612345678", "0690 12 34 56", "01 23", "+590690123456", "00 33 6 12 34 56 78", "６１２", "\x00"} {
		f.Add(s, "75011")
		f.Add(s, "97100")
	}
	f.Fuzz(func(t *testing.T, raw, postal string) {
		got, _, err := NormalizePhone(raw, postal)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "+") || strings.ContainsFunc(got[1:], func(r rune) bool { return r < '0' || r > '9' }) {
			t.Fatalf("NormalizePhone(%q, %q) = %q: not E.164", raw, postal, got)
		}
		again, _, err := NormalizePhone(got, postal)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, got, again, err)
		}
	})
}

// FuzzImport feeds hostile files to the CSV importer: it must never panic,
// and its summary must account for every row it read.
func FuzzImport(f *testing.F) {
	f.Add([]byte(mixedCSV))
	f.Add([]byte("ref;given_name\n1;Léa\n2;\"Jean\n"))
	f.Add([]byte("ref,email\n1,a@b.fr\n\n3,\xff\xfe\n"))
	f.Add([]byte("\ufeffNuméro allocataire\tNom\n123\tDupré\n"))
	pool := pgtest.New(f) // one database for every input
	f.Fuzz(func(t *testing.T, data []byte) {
		sum, err := Import(context.Background(), pool, bytes.NewReader(data), ImportOpts{Actor: "fuzz"})
		if err != nil {
			return
		}
		if sum.Inserted+sum.Updated+sum.Unchanged+sum.Rejected > sum.Rows {
			t.Fatalf("summary counts more outcomes than rows: %+v", sum)
		}
	})
}
