package letters

import (
	"io"
	"strings"
	"testing"
)

// twoPageLetter is a letter whose body fills two pages.
func twoPageLetter() Letter {
	l := sampleLetter()
	l.Body = strings.Repeat("Après étude de votre dossier, nous avons le plaisir de vous informer que vos droits sont ouverts à compter du 1er janvier\u202f: montant 1\u202f234,56\u00a0€.\n\n", 22)
	return l
}

// BenchmarkRender measures PDF letters per second for a 2-page letter.
func BenchmarkRender(b *testing.B) {
	l := twoPageLetter()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n, err := Render(io.Discard, l)
			if err != nil || n != 2 {
				b.Fatalf("pages %d, %v", n, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "letters/s")
}
