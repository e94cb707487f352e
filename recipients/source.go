package recipients

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

// Encodings Import accepts in ImportOpts.Encoding ("" detects).
const (
	EncodingUTF8        = "utf-8"
	EncodingWindows1252 = "windows-1252"
)

// ParseEncoding reads an encoding name as given on the command line or in
// a charset= parameter: utf-8, windows-1252 (also cp1252), latin1 or
// iso-8859-1 (read as Windows-1252, its superset in practice); "" detects.
func ParseEncoding(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "auto":
		return "", nil
	case "utf-8", "utf8":
		return EncodingUTF8, nil
	case "windows-1252", "cp1252", "latin1", "latin-1", "iso-8859-1", "iso8859-1", "ansi":
		return EncodingWindows1252, nil
	}
	return "", &FileError{Field: "encoding", Reason: fmt.Sprintf("%q is not supported (utf-8 or windows-1252)", name)}
}

// rowSource yields the records of an import file with the line (CSV) or
// row (xlsx) each starts on. A record that cannot be read comes back with
// a reason and no fields; reading goes on at the next line.
type rowSource interface {
	next() (rec []string, line int, reason string, err error)
	separator() string
}

// maxContinuation is how many lines a quoted field may span (an address
// with a line break) before an open quote is taken for an unclosed one.
const maxContinuation = 5

// csvSource reads CSV line by line, so that a bad line (an unclosed quote,
// a NUL byte, bytes that are not text) is rejected alone and never takes
// the following lines with it.
type csvSource struct {
	br      *bufio.Reader
	sep     rune
	utf8    bool // lines must be valid UTF-8 (else decoded from Windows-1252)
	line    int  // lines consumed from br
	pending []string
	pendAt  int // line number of pending[0]
}

var xlsxMagic = []byte("PK\x03\x04")

// newSource detects the file type (xlsx by its zip signature, else CSV),
// the encoding of a CSV file (BOM, valid UTF-8, else Windows-1252, unless
// encoding says) and its separator.
func newSource(r io.Reader, encoding string) (rowSource, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("import: read: %w", err)
	}
	if bytes.HasPrefix(head, xlsxMagic) {
		return newXLSXSource(br)
	}
	if bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
		head = head[3:]
		if encoding == "" {
			encoding = EncodingUTF8
		}
	}
	if encoding == "" {
		encoding = detectEncoding(head)
	}
	s := &csvSource{utf8: encoding == EncodingUTF8}
	if s.utf8 {
		s.br = br
	} else {
		s.br = bufio.NewReaderSize(charmap.Windows1252.NewDecoder().Reader(br), 64<<10)
		head, _ = s.br.Peek(4096)
	}
	first := head
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	s.sep = detectSeparator(first)
	return s, nil
}

// detectEncoding says how to read a CSV file without a byte-order mark:
// UTF-8 when its non-ASCII bytes are mostly valid UTF-8 (a few bad rows are
// then rejected one by one), Windows-1252 when none are (Excel's "CSV
// (séparateur : point-virgule)" in France).
func detectEncoding(head []byte) string {
	valid, invalid := 0, 0
	for i := 0; i < len(head); {
		if head[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && n <= 1 {
			if len(head)-i < utf8.UTFMax && !utf8.FullRune(head[i:]) {
				break // cut in the middle of a rune by the buffer
			}
			invalid++
			i++
			continue
		}
		valid++
		i += n
	}
	if invalid > 0 && invalid >= valid {
		return EncodingWindows1252
	}
	return EncodingUTF8
}

func (s *csvSource) separator() string { return string(s.sep) }

// readLine returns the next physical line (without its line break) and its
// number, from the lines put back first.
func (s *csvSource) readLine() (string, int, error) {
	if len(s.pending) > 0 {
		l, at := s.pending[0], s.pendAt
		s.pending, s.pendAt = s.pending[1:], s.pendAt+1
		return l, at, nil
	}
	l, err := s.br.ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || l == "") {
		return "", 0, err
	}
	s.line++
	return strings.TrimRight(l, "\r\n"), s.line, nil
}

func (s *csvSource) next() ([]string, int, string, error) {
	for {
		text, start, err := s.readLine()
		if err != nil {
			return nil, 0, "", err
		}
		if reason := badText(text, s.utf8); reason != "" {
			return nil, start, reason, nil
		}
		// A quoted field may span lines; an open quote that does not close
		// within maxContinuation lines (or before the end) is unclosed: the
		// line is rejected and reading resumes at the one after it.
		var taken []string
		for strings.Count(text, `"`)%2 == 1 {
			if len(taken) == maxContinuation {
				return s.unclosed(start, taken)
			}
			more, _, err := s.readLine()
			if errors.Is(err, io.EOF) {
				return s.unclosed(start, taken)
			}
			if err != nil {
				return nil, 0, "", err
			}
			if badText(more, s.utf8) != "" {
				taken = append(taken, more)
				return s.unclosed(start, taken)
			}
			taken = append(taken, more)
			text += "\n" + more
		}
		if strings.TrimSpace(text) == "" {
			continue // blank line
		}
		cr := csv.NewReader(strings.NewReader(text))
		cr.Comma = s.sep
		cr.FieldsPerRecord = -1
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, start, "is not valid CSV: " + pe.Err.Error(), nil
			}
			return nil, start, "is not valid CSV", nil
		}
		return rec, start, "", nil
	}
}

// unclosed rejects the line at start and puts back the lines read after it.
func (s *csvSource) unclosed(start int, taken []string) ([]string, int, string, error) {
	s.pending = append(append([]string(nil), taken...), s.pending...)
	s.pendAt = start + 1
	return nil, start, `has an unclosed quote (")`, nil
}

// badText explains why a line is not text: invalid UTF-8 or a NUL byte.
// Other control characters are refused field by field (CheckText), so that
// the rejection names the field.
func badText(line string, mustUTF8 bool) string {
	if mustUTF8 && !utf8.ValidString(line) {
		return "is not valid UTF-8: export the file as \"CSV UTF-8\" or give its encoding (windows-1252)"
	}
	for _, r := range line {
		if r == 0 {
			return "contains a NUL byte"
		}
	}
	return ""
}

// xlsxSource reads the first sheet of an Excel workbook.
type xlsxSource struct {
	rows  [][]string
	i     int
	width int
}

func newXLSXSource(r io.Reader) (rowSource, error) {
	f, err := excelize.OpenReader(r)
	if err != nil {
		return nil, &FileError{Reason: "the .xlsx file cannot be read: " + err.Error()}
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, &FileError{Reason: "the .xlsx file has no sheet"}
	}
	rows, err := f.GetRows(sheets[0], excelize.Options{RawCellValue: false})
	if err != nil {
		return nil, &FileError{Reason: "the .xlsx file cannot be read: " + err.Error()}
	}
	return &xlsxSource{rows: rows}, nil
}

func (x *xlsxSource) separator() string { return "xlsx" }

func (x *xlsxSource) next() ([]string, int, string, error) {
	for x.i < len(x.rows) {
		rec, line := x.rows[x.i], x.i+1
		x.i++
		if x.width == 0 {
			x.width = len(rec) // the header row
		}
		empty := true
		for _, v := range rec {
			if strings.TrimSpace(v) != "" {
				empty = false
			}
		}
		if empty {
			continue
		}
		// Excel drops trailing empty cells: pad to the header's width.
		for len(rec) < x.width {
			rec = append(rec, "")
		}
		for _, v := range rec {
			if reason := badText(v, true); reason != "" {
				return nil, line, reason, nil
			}
		}
		return rec, line, "", nil
	}
	return nil, 0, "", io.EOF
}
