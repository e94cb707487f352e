package templates

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Channels are the channels a template can be written for.
var Channels = []string{"email", "sms", "letter"}

// DefaultMaxSegments is the SMS segment budget of a template that sets none.
const DefaultMaxSegments = 2

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// header is a template file's front matter.
type header struct {
	kind          string
	channel       string
	subject       string
	subjectLine   int
	fields        []Field
	maxSegments   int
	transliterate bool
	description   string
}

// section is one part of a template body (html or text) and the file line its
// first line sits on.
type section struct {
	body string
	line int
}

// fileError is a problem at a line of a template file.
func fileError(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...))
}

// parseFile splits a template file into its front matter and body sections.
func parseFile(file, src string) (*header, map[string]section, error) {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "---" {
		return nil, nil, fileError(file, 1, "file must start with a front matter line \"---\"")
	}
	h := &header{maxSegments: DefaultMaxSegments}
	seen := map[string]int{}
	end := -1
	inFields := false
	fieldSeen := map[string]bool{}
	for i := 1; i < len(lines); i++ {
		ln := i + 1
		raw := lines[i]
		if strings.TrimSpace(raw) == "---" {
			end = i
			break
		}
		content, comment, _ := strings.Cut(raw, "#")
		if strings.TrimSpace(content) == "" {
			continue
		}
		indented := raw[0] == ' ' || raw[0] == '\t'
		if indented {
			if !inFields {
				return nil, nil, fileError(file, ln, "unexpected indented line outside \"fields:\"")
			}
			name, typ, ok := strings.Cut(strings.TrimSpace(content), ":")
			name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
			if !ok || name == "" || typ == "" {
				return nil, nil, fileError(file, ln, "field line must be \"name: type\"")
			}
			if !identRE.MatchString(name) {
				return nil, nil, fileError(file, ln, "field name %q must be lower snake_case", name)
			}
			ft := FieldType(typ)
			if !ft.valid() {
				return nil, nil, fileError(file, ln, "field %q: unknown type %q (want one of %s)", name, typ, typeList())
			}
			if fieldSeen[name] {
				return nil, nil, fileError(file, ln, "field %q declared twice", name)
			}
			fieldSeen[name] = true
			h.fields = append(h.fields, Field{Name: name, Type: ft, Description: strings.TrimSpace(comment), Line: ln})
			continue
		}
		inFields = false
		// The subject is a template: "#" is not a comment there.
		key, val, ok := strings.Cut(raw, ":")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, nil, fileError(file, ln, "front matter line must be \"key: value\"")
		}
		if prev, dup := seen[key]; dup {
			return nil, nil, fileError(file, ln, "key %q already set on line %d", key, prev)
		}
		seen[key] = ln
		if key != "subject" && key != "description" {
			val = strings.TrimSpace(strings.SplitN(val, "#", 2)[0])
		} else {
			val = strings.TrimSpace(val)
		}
		switch key {
		case "kind":
			if !identRE.MatchString(val) {
				return nil, nil, fileError(file, ln, "kind %q must be lower snake_case", val)
			}
			h.kind = val
		case "channel":
			if !validChannel(val) {
				return nil, nil, fileError(file, ln, "unknown channel %q (want email, sms or letter)", val)
			}
			h.channel = val
		case "subject":
			h.subject, h.subjectLine = val, ln
		case "description":
			h.description = val
		case "fields":
			if val != "" {
				return nil, nil, fileError(file, ln, "\"fields:\" takes indented \"name: type\" lines below it")
			}
			inFields = true
		case "max_segments":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 10 {
				return nil, nil, fileError(file, ln, "max_segments must be a number from 1 to 10, got %q", val)
			}
			h.maxSegments = n
		case "transliterate":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, nil, fileError(file, ln, "transliterate must be true or false, got %q", val)
			}
			h.transliterate = b
		default:
			return nil, nil, fileError(file, ln, "unknown front matter key %q", key)
		}
	}
	if end < 0 {
		return nil, nil, fileError(file, len(lines), "front matter is not closed by a \"---\" line")
	}
	if h.kind == "" {
		return nil, nil, fileError(file, 1, "front matter lacks \"kind:\"")
	}
	if h.channel == "" {
		return nil, nil, fileError(file, 1, "front matter lacks \"channel:\"")
	}
	if h.channel == "email" && h.subject == "" {
		return nil, nil, fileError(file, 1, "an email template needs \"subject:\"")
	}
	if h.channel == "sms" && h.subject != "" {
		return nil, nil, fileError(file, seen["subject"], "an SMS has no subject")
	}
	if h.channel != "sms" {
		for _, k := range []string{"max_segments", "transliterate"} {
			if l, ok := seen[k]; ok {
				return nil, nil, fileError(file, l, "%q applies to SMS templates only", k)
			}
		}
	}

	// Body: either one text part, or parts introduced by "-- html --" and
	// "-- text --" lines.
	sections := map[string]section{}
	cur, start := "text", end+2
	var buf []string
	explicit := false
	flush := func() {
		if explicit || strings.TrimSpace(strings.Join(buf, "\n")) != "" {
			sections[cur] = section{body: strings.Join(buf, "\n"), line: start}
		}
	}
	for i := end + 1; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "-- html --" || t == "-- text --" {
			name := strings.Trim(t, "- ")
			if explicit || strings.TrimSpace(strings.Join(buf, "\n")) != "" {
				if !explicit {
					return nil, nil, fileError(file, i+1, "text before the first section marker")
				}
				flush()
			}
			if _, dup := sections[name]; dup {
				return nil, nil, fileError(file, i+1, "section %q appears twice", name)
			}
			cur, start, buf, explicit = name, i+2, nil, true
			continue
		}
		buf = append(buf, lines[i])
	}
	flush()
	if _, ok := sections["text"]; !ok {
		return nil, nil, fileError(file, end+1, "template has no text body (\"-- text --\" section)")
	}
	if _, ok := sections["html"]; !ok && h.channel == "email" {
		return nil, nil, fileError(file, end+1, "an email template needs both \"-- html --\" and \"-- text --\" sections")
	}
	if _, ok := sections["html"]; ok && h.channel == "sms" {
		return nil, nil, fileError(file, end+1, "an SMS template has no html section")
	}
	return h, sections, nil
}

func validChannel(c string) bool {
	for _, ch := range Channels {
		if c == ch {
			return true
		}
	}
	return false
}

// padded returns body preceded by a template comment spanning line-1 lines,
// so that the parser's line numbers are the file's and the output has no
// padding.
func padded(body string, line int) string {
	if line <= 1 {
		return body
	}
	return "{{/*" + strings.Repeat("\n", line-1) + "*/}}" + body
}
