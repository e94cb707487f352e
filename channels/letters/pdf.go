package letters

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// The PDF writer.
//
// Letters are written by this small PDF 1.7 writer, not by a general PDF
// library: fpdf (codeberg.org/go-pdf/fpdf v0.12) parses and subsets the
// TrueType font again for every document, which measured 38 letters/s and
// 11 MB allocated per 2-page letter, far from the 500 letters/s a general
// mailing needs. Here the font program, its widths and its ToUnicode map are
// prepared once per process; a letter is a few text operators. The same
// writer streams a whole print batch into one PDF whose pages share one copy
// of the fonts, so that a batch never has to be held in memory.
//
// Text is set with Type 0 fonts (Identity-H, CIDFontType2 with an identity
// CID-to-glyph map) whose ToUnicode CMap lets pdftotext and screen readers
// extract the text, accents and U+202F included.

const ptPerMM = 72 / 25.4

// pdfFont is one embedded font, prepared once.
type pdfFont struct {
	name    string                   // PostScript base name
	gid     map[rune]uint16          // rune → glyph id
	adv     map[rune]float64         // rune → advance in 1/1000 em
	missing uint16                   // glyph for runes the font lacks
	objects func(first int) [][]byte // the 5 font objects numbered from first
}

var (
	fontsOnce sync.Once
	fonts     [2]*pdfFont // regular, bold
	fontsErr  error
)

func loadFonts() ([2]*pdfFont, error) {
	fontsOnce.Do(func() {
		for i, src := range [][]byte{fontRegular, fontBold} {
			name := []string{"DejaVuSans", "DejaVuSans-Bold"}[i]
			fonts[i], fontsErr = prepareFont("AAAAA"+string(rune('A'+i))+"+"+name, src)
			if fontsErr != nil {
				return
			}
		}
	})
	return fonts, fontsErr
}

func prepareFont(name string, ttf []byte) (*pdfFont, error) {
	f, err := sfnt.Parse(ttf)
	if err != nil {
		return nil, fmt.Errorf("parse font %s: %w", name, err)
	}
	var buf sfnt.Buffer
	upem := fixed.Int26_6(f.UnitsPerEm()) << 6
	scale := 1000 / float64(f.UnitsPerEm())
	pf := &pdfFont{name: name, gid: map[rune]uint16{}, adv: map[rune]float64{}}
	widths := map[uint16]int{}
	toUni := map[uint16]rune{}
	for r := rune(0x20); r <= 0x25A1; r++ {
		g, err := f.GlyphIndex(&buf, r)
		if r == ' ' {
			// fpdf's subsetter (which cut these fonts) left U+0020 out of
			// the cmap; the no-break space has the same glyph and width.
			g, err = f.GlyphIndex(&buf, 0xA0)
		}
		if err != nil || g == 0 {
			continue
		}
		a, err := f.GlyphAdvance(&buf, g, upem, font.HintingNone)
		if err != nil {
			return nil, err
		}
		w := float64(a) / 64 * scale
		pf.gid[r], pf.adv[r] = uint16(g), w
		widths[uint16(g)] = int(w + 0.5)
		if _, ok := toUni[uint16(g)]; !ok {
			toUni[uint16(g)] = r
		}
	}
	pf.missing = pf.gid['?']
	m, err := f.Metrics(&buf, upem, font.HintingNone)
	if err != nil {
		return nil, err
	}
	bounds, err := f.Bounds(&buf, upem, font.HintingNone)
	if err != nil {
		return nil, err
	}
	u := func(v fixed.Int26_6) int { return int(float64(v) / 64 * scale) }

	// W array and ToUnicode CMap, in glyph order so the bytes are stable.
	maxG := uint16(0)
	for g := range widths {
		maxG = max(maxG, g)
	}
	var w bytes.Buffer
	w.WriteString("[")
	var cmap bytes.Buffer
	cmap.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	var pairs []string
	for g := uint16(0); g <= maxG; g++ {
		if wd, ok := widths[g]; ok {
			fmt.Fprintf(&w, "%d [%d] ", g, wd)
		}
		if r, ok := toUni[g]; ok {
			pairs = append(pairs, fmt.Sprintf("<%04X> <%04X>\n", g, r))
		}
	}
	w.WriteString("]")
	for i := 0; i < len(pairs); i += 100 {
		chunk := pairs[i:min(i+100, len(pairs))]
		fmt.Fprintf(&cmap, "%d beginbfchar\n", len(chunk))
		for _, p := range chunk {
			cmap.WriteString(p)
		}
		cmap.WriteString("endbfchar\n")
	}
	cmap.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	fontFile := deflate(ttf)
	toUnicode := deflate(cmap.Bytes())
	wArr := w.String()
	flags := 32 // nonsymbolic
	pf.objects = func(first int) [][]byte {
		ref := func(i int) string { return strconv.Itoa(first+i) + " 0 R" }
		return [][]byte{
			[]byte(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%s] /ToUnicode %s >>",
				name, ref(1), ref(4))),
			[]byte(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %s /DW 600 /W %s /CIDToGIDMap /Identity >>",
				name, ref(2), wArr)),
			[]byte(fmt.Sprintf("<< /Type /FontDescriptor /FontName /%s /Flags %d /FontBBox [%d %d %d %d] /ItalicAngle 0 /Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 %s >>",
				name, flags, u(bounds.Min.X), -u(bounds.Max.Y), u(bounds.Max.X), -u(bounds.Min.Y), u(m.Ascent), -u(m.Descent), u(m.CapHeight), ref(3))),
			streamObject(fmt.Sprintf("/Length1 %d /Filter /FlateDecode", len(ttf)), fontFile),
			streamObject("/Filter /FlateDecode", toUnicode),
		}
	}
	return pf, nil
}

func streamObject(dict string, data []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<< %s /Length %d >>\nstream\n", dict, len(data))
	b.Write(data)
	b.WriteString("\nendstream")
	return b.Bytes()
}

var zpool = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed); return w }}

func deflate(b []byte) []byte {
	var out bytes.Buffer
	z := zpool.Get().(*zlib.Writer)
	z.Reset(&out)
	_, _ = z.Write(b)
	_ = z.Close()
	zpool.Put(z)
	return out.Bytes()
}

// width is the width of s in millimetres at size points.
func (f *pdfFont) width(s string, size float64) float64 {
	var w float64
	for _, r := range s {
		a, ok := f.adv[r]
		if !ok {
			a = f.adv['?']
		}
		w += a
	}
	return w * size / 1000 / ptPerMM
}

// Writer writes one PDF document: fonts once, then pages as they come.
// Memory grows only with the object offsets (8 bytes an object) and the page
// list, never with page content.
type Writer struct {
	w       *bufio.Writer
	cw      *countWriter
	offsets []int64 // by object number - 1
	pages   []int   // page object numbers
	fonts   [2]*pdfFont
	date    time.Time
	err     error
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Object numbers fixed by the writer: 1 catalog, 2 page tree, 3 info,
// 4–8 regular font, 9–13 bold font; pages follow.
const (
	objCatalog = 1
	objPages   = 2
	objInfo    = 3
	objFonts   = 4
)

// NewWriter starts a PDF on w; date is its creation date (a fixed date makes
// the output byte-stable).
func NewWriter(w io.Writer, date time.Time) (*Writer, error) {
	fs, err := loadFonts()
	if err != nil {
		return nil, err
	}
	cw := &countWriter{w: w}
	pw := &Writer{w: bufio.NewWriterSize(cw, 32<<10), cw: cw, fonts: fs, date: date, offsets: make([]int64, 13, 64)}
	pw.w.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	for i, f := range fs {
		first := objFonts + 5*i
		for j, body := range f.objects(first) {
			pw.put(first+j, body)
		}
	}
	return pw, pw.err
}

func (pw *Writer) pos() int64 { return pw.cw.n + int64(pw.w.Buffered()) }

// put writes object num with body.
func (pw *Writer) put(num int, body []byte) {
	for len(pw.offsets) < num {
		pw.offsets = append(pw.offsets, 0)
	}
	pw.offsets[num-1] = pw.pos()
	pw.w.WriteString(strconv.Itoa(num))
	pw.w.WriteString(" 0 obj\n")
	pw.w.Write(body)
	if _, err := pw.w.WriteString("\nendobj\n"); err != nil && pw.err == nil {
		pw.err = err
	}
}

func (pw *Writer) next() int { return len(pw.offsets) + 1 }

// Page is one page being drawn: text operators in page coordinates (mm from
// the top-left corner).
type Page struct {
	pw      *Writer
	content bytes.Buffer
	font    int
	size    float64
}

// NewPage starts a page; it is written by Close.
func (pw *Writer) NewPage() *Page {
	p := &Page{pw: pw, font: -1}
	p.content.Grow(4 << 10)
	return p
}

// SetFont selects the regular (bold false) or bold font at size points.
func (p *Page) SetFont(bold bool, size float64) {
	f := 0
	if bold {
		f = 1
	}
	p.font, p.size = f, size
}

// Width is the width of s in the current font, in millimetres.
func (p *Page) Width(s string) float64 { return p.pw.fonts[max(p.font, 0)].width(s, p.size) }

// Text writes s with its baseline starting at (x, y) mm.
func (p *Page) Text(x, y float64, s string) {
	f := p.pw.fonts[max(p.font, 0)]
	b := &p.content
	b.WriteString("BT /F")
	b.WriteString(strconv.Itoa(max(p.font, 0) + 1))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(p.size, 'f', -1, 64))
	b.WriteString(" Tf ")
	b.WriteString(strconv.FormatFloat(x*ptPerMM, 'f', 2, 64))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat((pageH-y)*ptPerMM, 'f', 2, 64))
	b.WriteString(" Td <")
	const hex = "0123456789ABCDEF"
	for _, r := range s {
		g, ok := f.gid[r]
		if !ok {
			g = f.missing
		}
		b.WriteByte(hex[g>>12])
		b.WriteByte(hex[g>>8&15])
		b.WriteByte(hex[g>>4&15])
		b.WriteByte(hex[g&15])
	}
	b.WriteString("> Tj ET\n")
}

// Close writes the page and its content.
func (p *Page) Close() {
	pw := p.pw
	contents := pw.next()
	pw.put(contents, streamObject("/Filter /FlateDecode", deflate(p.content.Bytes())))
	page := pw.next()
	pw.put(page, []byte(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595.28 841.89] /Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> /Contents %d 0 R >>",
		objPages, objFonts, objFonts+5, contents)))
	pw.pages = append(pw.pages, page)
}

// PageCount is the number of pages written so far.
func (pw *Writer) PageCount() int { return len(pw.pages) }

// Close writes the page tree, the catalog, the cross-reference table and the
// trailer, and flushes.
func (pw *Writer) Close() error {
	var kids bytes.Buffer
	for i, p := range pw.pages {
		if i > 0 {
			kids.WriteByte(' ')
		}
		kids.WriteString(strconv.Itoa(p))
		kids.WriteString(" 0 R")
	}
	pw.put(objPages, []byte(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids.String(), len(pw.pages))))
	pw.put(objCatalog, []byte(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", objPages)))
	d := pw.date.UTC().Format("20060102150405")
	pw.put(objInfo, []byte(fmt.Sprintf("<< /Producer (courrier) /Creator (courrier) /CreationDate (D:%sZ) /ModDate (D:%sZ) >>", d, d)))
	xref := pw.pos()
	fmt.Fprintf(pw.w, "xref\n0 %d\n0000000000 65535 f \n", len(pw.offsets)+1)
	for _, off := range pw.offsets {
		fmt.Fprintf(pw.w, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(pw.w, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(pw.offsets)+1, objCatalog, objInfo, xref)
	if err := pw.w.Flush(); err != nil {
		return err
	}
	return pw.err
}
