package letters

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
)

// The fonts are subsets of DejaVu Sans with full French coverage (accents,
// Œ œ, € « » and the narrow no-break space U+202F): see fonts/README.md.
var (
	//go:embed fonts/DejaVuSans-subset.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold-subset.ttf
	fontBold []byte
)

// Geometry of the page, in millimetres from the top-left corner of an A4
// sheet (210 × 297).
//
// The address block sits where a French window envelope shows it: a DL
// envelope (110 × 220 mm, NF EN ISO 269) with its window of 45 × 100 mm at
// 20 mm from the right edge and 15 mm from the bottom; an A4 sheet folded in
// three (99 mm panels) and slid into it shows the rectangle Window of its
// first panel. The same zone falls inside the window of a C5/6 envelope
// (114 × 229 mm, window 45 × 100 mm at 20 mm / 15 mm). The block is inset
// 5 mm from each edge of the window so that a 4 mm play of the sheet in the
// envelope never hides a character.
const (
	pageW, pageH   = 210.0, 297.0
	marginLeft     = 20.0
	marginRight    = 20.0
	bodyWidth      = pageW - marginLeft - marginRight
	addressX       = 110.0
	addressTop     = 52.0
	addressLineH   = 4.6
	addressSize    = 10.0
	bodyTopFirst   = 124.0
	bodyTopNext    = 20.0
	bodyBottom     = 272.0
	bodyLineH      = 5.0
	bodySize       = 10.0
	footerBaseline = 287.0
)

// Window is the zone of the first page seen through the envelope window,
// in millimetres from the top-left corner (x, y, width, height).
var Window = struct{ X, Y, W, H float64 }{X: 100, Y: 45, W: 95, H: 45}

// Sender is the letterhead: the agency that writes.
type Sender struct {
	Name  string   `json:"name"`  // "Caf de Paris"
	Lines []string `json:"lines"` // postal address, phone, website
	Place string   `json:"place"` // city of the date line: "Paris"
}

// Letter is what a PDF letter is rendered from. Rendering is a pure function
// of it: the same Letter gives the same bytes (the PDF dates are Date).
type Letter struct {
	Ref       string    `json:"ref"` // letter id printed on it: "L000123"
	Sender    Sender    `json:"sender"`
	Address   []string  `json:"-"` // window block, one entry per line (postal.Address.Lines)
	Date      time.Time `json:"date"`
	Reference string    `json:"-"` // "Numéro allocataire : 1234567"
	Subject   string    `json:"-"` // printed after "Objet : "
	Body      string    `json:"-"` // paragraphs separated by blank lines
}

// Render writes l as a PDF to w and returns its page count.
func Render(w io.Writer, l Letter) (pages int, err error) {
	pw, err := NewWriter(w, l.Date)
	if err != nil {
		return 0, err
	}
	pages = AddLetter(pw, l)
	if err := pw.Close(); err != nil {
		return 0, fmt.Errorf("render letter %s: %w", l.Ref, err)
	}
	return pages, nil
}

// RenderBytes is Render into memory.
func RenderBytes(l Letter) ([]byte, int, error) {
	var b bytes.Buffer
	b.Grow(80 << 10)
	n, err := Render(&b, l)
	return b.Bytes(), n, err
}

type line struct {
	text string
	bold bool
	gap  bool // blank line
}

// AddLetter lays out l on new pages of pw and returns how many it used.
func AddLetter(pw *Writer, l Letter) int {
	measure := pw.NewPage()
	lines := layout(measure, l.Body)
	// Paginate first, so that every page can say "n/N".
	firstCap, nextCap := linesPerPage(bodyTopFirst), linesPerPage(bodyTopNext)
	var pages [][]line
	cur, capacity := []line{}, firstCap
	for _, ln := range lines {
		if len(cur) == 0 && ln.gap && len(pages) > 0 {
			continue // no blank line at the top of a page
		}
		if len(cur) == capacity {
			pages = append(pages, cur)
			cur, capacity = []line{}, nextCap
			if ln.gap {
				continue
			}
		}
		cur = append(cur, ln)
	}
	pages = append(pages, cur)
	total := len(pages)

	for i, body := range pages {
		pg := pw.NewPage()
		y := bodyTopNext
		if i == 0 {
			firstPage(pg, l)
			y = bodyTopFirst
		}
		for _, ln := range body {
			if !ln.gap {
				pg.SetFont(ln.bold, bodySize)
				pg.Text(marginLeft, y+bodyLineH-1.4, ln.text)
			}
			y += bodyLineH
		}
		pg.SetFont(false, 8)
		footer := fmt.Sprintf("%d/%d", i+1, total)
		pg.Text(pageW-marginRight-pg.Width(footer), footerBaseline, footer)
		if l.Ref != "" {
			pg.Text(marginLeft, footerBaseline, l.Sender.Name+" · courrier "+l.Ref)
		}
		pg.Close()
	}
	return total
}

// AddBlankPage adds an empty page (the back of a letter's last sheet when
// printing on both sides).
func AddBlankPage(pw *Writer) { pw.NewPage().Close() }

func linesPerPage(top float64) int { return int((bodyBottom - top) / bodyLineH) }

// firstPage draws the letterhead, the address block, the date line, the
// references and the subject.
func firstPage(pdf *Page, l Letter) {
	// Logo area (x 20–60, y 12–26): the agency's name stands in for a logo;
	// an image can be placed in the same rectangle.
	pdf.SetFont(true, 14)
	pdf.Text(marginLeft, 20, l.Sender.Name)
	pdf.SetFont(false, 8.5)
	y := 30.0
	for _, s := range l.Sender.Lines {
		pdf.Text(marginLeft, y, s)
		y += 4
	}

	pdf.SetFont(false, addressSize)
	for i, s := range l.Address {
		pdf.Text(addressX, addressTop+float64(i)*addressLineH+3.5, s)
	}

	pdf.SetFont(false, bodySize)
	place := l.Sender.Place
	if place == "" {
		place = "Paris"
	}
	pdf.Text(addressX, 102, place+", le "+FrenchDate(l.Date))
	if l.Reference != "" {
		pdf.Text(marginLeft, 102, l.Reference)
	}
	if l.Ref != "" {
		pdf.Text(marginLeft, 107, "Référence du courrier : "+l.Ref)
	}
	if l.Subject != "" {
		pdf.SetFont(true, bodySize)
		subject := "Objet : " + l.Subject
		for i, s := range wrap(pdf, subject, bodyWidth) {
			if i == 2 {
				break
			}
			pdf.Text(marginLeft, 115+float64(i)*bodyLineH, s)
		}
	}
}

// layout wraps the body into lines of bodyWidth. An all-capitals line is a
// heading and is set in bold.
func layout(pdf *Page, body string) []line {
	pdf.SetFont(false, bodySize)
	var out []line
	for _, para := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		para = strings.TrimRight(para, " \t")
		if para == "" {
			out = append(out, line{gap: true})
			continue
		}
		bold := isHeading(para)
		if bold {
			pdf.SetFont(true, bodySize)
		}
		for _, s := range wrap(pdf, para, bodyWidth) {
			out = append(out, line{text: s, bold: bold})
		}
		if bold {
			pdf.SetFont(false, bodySize)
		}
	}
	for len(out) > 0 && out[len(out)-1].gap {
		out = out[:len(out)-1]
	}
	return out
}

// wrap breaks s at ordinary spaces only: the no-break spaces of French
// typography (U+00A0, U+202F before ; : ! ? » and after «) never break.
func wrap(pdf *Page, s string, width float64) []string {
	words := strings.Split(s, " ")
	var out []string
	cur := ""
	space := pdf.Width(" ")
	curW := 0.0
	for _, w := range words {
		ww := pdf.Width(w)
		switch {
		case cur == "":
			cur, curW = w, ww
		case curW+space+ww <= width:
			cur += " " + w
			curW += space + ww
		default:
			out = append(out, cur)
			cur, curW = w, ww
		}
	}
	return append(out, cur)
}

func isHeading(s string) bool {
	letters := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			if !unicode.IsUpper(r) {
				return false
			}
			letters++
		}
	}
	return letters >= 4
}

var frenchMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
	"septembre", "octobre", "novembre", "décembre"}

// FrenchDate formats t's date in Paris as in a French letter: "1er décembre
// 2026", "2 décembre 2026".
func FrenchDate(t time.Time) string {
	t = t.In(paris)
	day := fmt.Sprint(t.Day())
	if t.Day() == 1 {
		day = "1er"
	}
	return day + " " + frenchMonths[t.Month()-1] + " " + fmt.Sprint(t.Year())
}
