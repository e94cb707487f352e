package letters

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/courrier-dev/courrier/channels/postal"
)

func sampleLetter() Letter {
	return Letter{
		Ref:       "L000042",
		Sender:    Sender{Name: "Caf de Paris", Lines: []string{"50 rue du Docteur Finlay", "75750 PARIS CEDEX 15", "3230"}, Place: "Paris"},
		Address:   []string{"Mme Hélène Lefèvre-Œuvray", "12 rue de l'Église", "Bâtiment B", "97400 SAINT DENIS"},
		Date:      time.Date(2026, 12, 1, 9, 30, 0, 0, paris),
		Reference: "Numéro allocataire : 1234567",
		Subject:   "Ouverture de vos droits : Prime d'activité",
		Body:      "Madame,\n\nMontant mensuel\u202f: 1\u202f234,56\u00a0€ «\u202fà partir du 1er janvier\u202f».\n\nNOUS CONTACTER\n\nŒuvre, cœur, Ÿ, ça, où, è, ê, ë, ï, ô, ù, û, ü, ÿ, æ.",
	}
}

// pdfFile writes b under the test's temporary directory.
func pdfFile(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "letter.pdf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}

// pdfPages is the page count pdfinfo reads.
func pdfPages(t *testing.T, path string) int {
	t.Helper()
	for _, l := range strings.Split(run(t, "pdfinfo", path), "\n") {
		if v, ok := strings.CutPrefix(l, "Pages:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("pdfinfo: no Pages line")
	return 0
}

func TestRenderFrenchText(t *testing.T) {
	t.Parallel()
	b, pages, err := RenderBytes(sampleLetter())
	if err != nil {
		t.Fatal(err)
	}
	path := pdfFile(t, b)
	if got := pdfPages(t, path); got != pages || pages != 1 {
		t.Fatalf("pdfinfo pages %d, Render said %d, want 1", got, pages)
	}
	text := run(t, "pdftotext", "-layout", "-enc", "UTF-8", path, "-")
	for _, want := range []string{
		"Mme Hélène Lefèvre-Œuvray", "12 rue de l'Église", "97400 SAINT DENIS",
		"Paris, le 1er décembre 2026", "Objet : Ouverture de vos droits : Prime d'activité",
		"Numéro allocataire : 1234567", "Référence du courrier : L000042",
		// poppler extracts U+00A0 and U+202F as word breaks (spaces);
		// TestNarrowNoBreakSpace checks their width instead.
		"mensuel : 1 234,56 € « à partir du 1er janvier ».",
		"Œuvre, cœur, Ÿ, ça, où, è, ê, ë, ï, ô, ù, û, ü, ÿ, æ.", "1/1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext lacks %q:\n%s", want, text)
		}
	}
}

// TestNarrowNoBreakSpace checks with pdftotext -bbox that U+202F is set as a
// narrow space (between "mensuel" and ":"), narrower than the ordinary space
// between "Montant" and "mensuel".
func TestNarrowNoBreakSpace(t *testing.T) {
	t.Parallel()
	b, _, err := RenderBytes(sampleLetter())
	if err != nil {
		t.Fatal(err)
	}
	p := readBBox(t, pdfFile(t, b)).Pages[0]
	var gapSpace, gapNarrow float64
	for i := 1; i < len(p.Words); i++ {
		prev, w := p.Words[i-1], p.Words[i]
		switch {
		case prev.Text == "Montant" && w.Text == "mensuel":
			gapSpace = w.XMin - prev.XMax
		case prev.Text == "mensuel" && w.Text == ":":
			gapNarrow = w.XMin - prev.XMax
		}
	}
	if gapSpace <= 0 || gapNarrow <= 0 || gapNarrow >= gapSpace*0.8 {
		t.Fatalf("gap before ':' %.2f pt, ordinary space %.2f pt: want a narrow no-break space", gapNarrow, gapSpace)
	}
}

func readBBox(t *testing.T, path string) bboxDoc {
	t.Helper()
	out := run(t, "pdftotext", "-bbox", "-enc", "UTF-8", path, "-")
	var doc bboxDoc
	dec := xml.NewDecoder(bytes.NewReader([]byte(out)))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode bbox: %v\n%s", err, out)
	}
	return doc
}

type bboxDoc struct {
	Pages []struct {
		Width  float64 `xml:"width,attr"`
		Height float64 `xml:"height,attr"`
		Words  []struct {
			XMin float64 `xml:"xMin,attr"`
			YMin float64 `xml:"yMin,attr"`
			XMax float64 `xml:"xMax,attr"`
			YMax float64 `xml:"yMax,attr"`
			Text string  `xml:",chardata"`
		} `xml:"word"`
	} `xml:"body>doc>page"`
}

// TestAddressInWindow reads the words' boxes back with pdftotext -bbox and
// checks that every word of the address block lies inside the envelope
// window, and that nothing else does.
func TestAddressInWindow(t *testing.T) {
	t.Parallel()
	l := sampleLetter()
	l.Address = []string{"M. Jean-Christophe Dupont-Martinez", "Résidence les Tilleuls Bâtiment C", "Appartement 1204 Escalier 3", "128 avenue du Général Leclerc", "BP 12 Lieu-dit La Fontaine", "97122 BAIE MAHAULT"}
	b, _, err := RenderBytes(l)
	if err != nil {
		t.Fatal(err)
	}
	doc := readBBox(t, pdfFile(t, b))
	if len(doc.Pages) != 1 {
		t.Fatalf("pages %d", len(doc.Pages))
	}
	p := doc.Pages[0]
	mm := func(pt float64) float64 { return pt * 25.4 / 72 }
	if w, h := mm(p.Width), mm(p.Height); w < 209.5 || w > 210.5 || h < 296.5 || h > 297.5 {
		t.Fatalf("page %.1f × %.1f mm, want A4", w, h)
	}
	want := map[string]bool{}
	for _, line := range l.Address {
		for _, w := range strings.Fields(line) {
			want[w] = true
		}
	}
	found := 0
	for _, w := range p.Words {
		x0, y0, x1, y1 := mm(w.XMin), mm(w.YMin), mm(w.XMax), mm(w.YMax)
		inside := x0 >= Window.X && x1 <= Window.X+Window.W && y0 >= Window.Y && y1 <= Window.Y+Window.H
		if inside {
			if !want[w.Text] {
				t.Errorf("%q in the window zone but not part of the address", w.Text)
			}
			found++
			continue
		}
		if want[w.Text] && x0 >= Window.X-5 && y0 >= Window.Y-5 && y1 <= Window.Y+Window.H+5 {
			t.Errorf("address word %q at (%.1f,%.1f)-(%.1f,%.1f) mm is outside the window %+v", w.Text, x0, y0, x1, y1, Window)
		}
	}
	if n := len(strings.Fields(strings.Join(l.Address, " "))); found != n {
		t.Errorf("%d words in the window, want the %d of the address", found, n)
	}
}

func TestRenderByteStable(t *testing.T) {
	t.Parallel()
	a, _, err := RenderBytes(twoPageLetter())
	if err != nil {
		t.Fatal(err)
	}
	b, pages, err := RenderBytes(twoPageLetter())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two renders of the same letter differ")
	}
	path := pdfFile(t, a)
	if got := pdfPages(t, path); got != 2 || pages != 2 {
		t.Fatalf("pages: pdfinfo %d, Render %d, want 2", got, pages)
	}
	text := run(t, "pdftotext", "-layout", "-enc", "UTF-8", path, "-")
	if !strings.Contains(text, "1/2") || !strings.Contains(text, "2/2") {
		t.Fatalf("page numbers missing:\n%s", text)
	}
	info := run(t, "pdfinfo", path)
	if !strings.Contains(info, "CreationDate:") || !strings.Contains(info, "2026") {
		t.Fatalf("creation date is not the letter's date:\n%s", info)
	}
}

func TestFrenchDate(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Time]string{
		time.Date(2026, 12, 1, 0, 30, 0, 0, paris):      "1er décembre 2026",
		time.Date(2026, 8, 15, 12, 0, 0, 0, paris):      "15 août 2026",
		time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC): "1er janvier 2027", // Paris date, not UTC
	} {
		if got := FrenchDate(in); got != want {
			t.Errorf("FrenchDate(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestLongLinesWrap: every word of a long paragraph stays inside the right
// margin (pdftotext -bbox), and no glyph is missing (no .notdef boxes: the
// text layer has no U+FFFD or "?" the input did not have).
func TestLongLinesWrap(t *testing.T) {
	t.Parallel()
	l := sampleLetter()
	l.Body = strings.Repeat("Ce montant vous sera versé chaque mois sur votre compte bancaire. ", 12)
	b, _, err := RenderBytes(l)
	if err != nil {
		t.Fatal(err)
	}
	doc := readBBox(t, pdfFile(t, b))
	lines := 0
	for _, w := range doc.Pages[0].Words {
		if x1 := w.XMax * 25.4 / 72; x1 > pageW-marginRight+0.5 {
			t.Errorf("%q ends at %.1f mm, beyond the right margin", w.Text, x1)
		}
		if strings.ContainsAny(w.Text, "?\uFFFD") {
			t.Errorf("word %q has a missing glyph", w.Text)
		}
		if w.Text == "bancaire." {
			lines++
		}
	}
	if lines != 12 {
		t.Errorf("%d sentences found, want 12", lines)
	}
}

// TestFontCoversPrintable: every character that postal.Printable lets into
// an address has a real glyph (not .notdef, glyph 0) in both fonts.
func TestFontCoversPrintable(t *testing.T) {
	t.Parallel()
	fs, err := loadFonts()
	if err != nil {
		t.Fatal(err)
	}
	for r := rune(0x20); r < 0x2800; r++ {
		if !postal.PrintableRune(r) || r == '\n' {
			continue
		}
		for i, f := range fs {
			if g, ok := f.gid[r]; !ok || g == 0 {
				t.Errorf("font %d: no glyph for U+%04X %q", i, r, r)
			}
		}
	}
}
