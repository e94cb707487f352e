package templates

import (
	"strings"
	"unicode/utf16"
)

// SMS encodings.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// SMSInfo says how an SMS text is encoded and how many segments it costs.
// Characters is the length in the encoding's own units, the ones the 160/70
// limits count: septets for GSM-7 (an extension character counts two), UTF-16
// code units for UCS-2.
type SMSInfo struct {
	Encoding   string // "GSM-7" or "UCS-2"
	Segments   int
	Characters int
}

// gsmBasic is the GSM 03.38 default alphabet (3GPP TS 23.038), without ESC.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension is the default extension table: each costs ESC + one septet.
const gsmExtension = "\f^{}\\[~]|€"

var gsmBasicSet, gsmExtSet = runeSet(gsmBasic), runeSet(gsmExtension)

func runeSet(s string) map[rune]bool {
	m := make(map[rune]bool, len(s))
	for _, r := range s {
		m[r] = true
	}
	return m
}

// Segment sizes: a single SMS, or one part of a concatenated SMS (whose user
// data header takes the rest).
const (
	gsmSingle, gsmPart   = 160, 153
	ucs2Single, ucs2Part = 70, 67
)

// AnalyzeSMS returns the encoding text needs and the number of segments it
// costs. GSM-7 is used when every character is in the GSM 03.38 alphabet or
// its extension table; otherwise UCS-2. An escape pair (GSM-7) or surrogate
// pair (UCS-2) is never split across segments, as phones and providers do.
// An empty text costs no segment.
func AnalyzeSMS(text string) SMSInfo {
	units := make([]int, 0, len(text)) // size of each character in units
	gsm := true
scan:
	for _, r := range text {
		switch {
		case gsmBasicSet[r]:
			units = append(units, 1)
		case gsmExtSet[r]:
			units = append(units, 2)
		default:
			gsm = false
			break scan
		}
	}
	info := SMSInfo{Encoding: EncodingGSM7}
	single, part := gsmSingle, gsmPart
	if !gsm {
		info.Encoding = EncodingUCS2
		single, part = ucs2Single, ucs2Part
		units = units[:0]
		for _, r := range text {
			units = append(units, utf16.RuneLen(r))
		}
	}
	for _, u := range units {
		info.Characters += u
	}
	switch {
	case info.Characters == 0:
		info.Segments = 0
	case info.Characters <= single:
		info.Segments = 1
	default:
		info.Segments = 1
		used := 0
		for _, u := range units {
			if used+u > part {
				info.Segments++
				used = 0
			}
			used += u
		}
	}
	return info
}

// transliterations map characters outside GSM-7 to their closest GSM-7
// spelling. Characters already in GSM-7 (é è à ù Ç …) are kept.
var transliterations = map[rune]string{
	'â': "a", 'á': "a", 'ã': "a", 'À': "A", 'Â': "A", 'Á': "A", 'Ã': "A",
	'ê': "e", 'ë': "e", 'È': "E", 'Ê': "E", 'Ë': "E",
	'î': "i", 'ï': "i", 'í': "i", 'Î': "I", 'Ï': "I", 'Í': "I", 'Ì': "I",
	'ô': "o", 'ó': "o", 'õ': "o", 'Ô': "O", 'Ó': "O", 'Ò': "O", 'Õ': "O",
	'û': "u", 'ú': "u", 'Û': "U", 'Ù': "U", 'Ú': "U",
	'ç': "c", 'ÿ': "y", 'Ÿ': "Y", 'œ': "oe", 'Œ': "OE",
	'’': "'", '‘': "'", '‚': "'", '′': "'", 'ʼ': "'",
	'“': "\"", '”': "\"", '„': "\"", '″': "\"",
	'«': "\"", '»': "\"", '‹': "'", '›': "'",
	'…': "...", '–': "-", '—': "-", '‑': "-", '‐': "-", '−': "-", '•': "-",
	'\u00A0': " ", '\u202F': " ", '\u2009': " ", '\u2007': " ", '\u2002': " ", '\u2003': " ",
	'\u200B': "", '\uFEFF': "",
	'°': "o", '\t': " ",
}

// TransliterateGSM rewrites text so that it fits GSM-7 where it can: letters
// with accents GSM-7 lacks lose them (ê→e, ç→c, œ→oe), typographic quotes and
// apostrophes become ASCII, « » become ", … becomes ..., and no-break spaces
// become spaces (the space just inside « » is dropped). Characters with no
// GSM-7 spelling (emoji…) are kept, so the text stays UCS-2.
func TransliterateGSM(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '«':
			b.WriteByte('"')
			if i+1 < len(rs) && isSpace(rs[i+1]) {
				i++
			}
			continue
		case isSpace(r) && i+1 < len(rs) && rs[i+1] == '»':
			continue
		}
		if gsmBasicSet[r] || gsmExtSet[r] {
			b.WriteRune(r)
		} else if t, ok := transliterations[r]; ok {
			b.WriteString(t)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\u00A0' || r == '\u202F' || r == '\u2009'
}
