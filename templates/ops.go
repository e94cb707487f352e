package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Info describes one template of a Set, as `courrier templates list` and
// the console show it.
type Info struct {
	Key     string  `json:"kind"`
	Channel string  `json:"channel"`
	Missing bool    `json:"missing,omitempty"` // no template for this kind on this channel
	Version string  `json:"version,omitempty"`
	Fields  []Field `json:"fields,omitempty"`
	File    string  `json:"file,omitempty"` // where it was loaded from
}

// List returns every kind of the set on every channel, in key then channel
// order; a kind without a template on a channel is listed as Missing.
func (s *Set) List() []Info {
	var out []Info
	for _, key := range s.Keys() {
		for _, ch := range Channels {
			c, ok := s.tmpls[key+"/"+ch]
			if !ok {
				out = append(out, Info{Key: key, Channel: ch, Missing: true})
				continue
			}
			out = append(out, Info{Key: key, Channel: ch, Version: c.version, Fields: slices.Clone(c.fields), File: c.file})
		}
	}
	return out
}

// ErrLint is returned by Lint when any template has a problem.
var ErrLint = errors.New("templates: lint found problems")

// LintLine is one finding of Lint: Level "ok", "fail" or "warn".
type LintLine struct {
	Level   string `json:"level"`
	Name    string `json:"name"` // kind/channel
	Message string `json:"message,omitempty"`
}

// LintReport is what Lint found.
type LintReport struct {
	Templates int        `json:"templates"`
	Problems  int        `json:"problems"`
	Lines     []LintLine `json:"lines"`
	// LoadError is set when the templates did not load at all (the file and
	// line are in its text).
	LoadError string `json:"load_error,omitempty"`
}

// Lint loads the templates (defaults and opts.OverrideDir), checks that
// every default notice kind has a template on every channel, renders every
// template with its sample data (SampleData, completed with made-up values
// for fields it lacks), enforces the SMS segment budget, and checks the HTML
// rules (lang="fr", a title, one h1, headings in order, no image without
// alt text, a plain-text part that carries every heading). It returns the
// report, and an error wrapping ErrLint if there was any problem. Declared
// but unused fields are warnings.
func Lint(opts *Options) (*LintReport, error) {
	rep := &LintReport{Lines: []LintLine{}}
	set, err := Load(opts)
	if err != nil {
		rep.LoadError = err.Error()
		rep.Problems = 1
		return rep, fmt.Errorf("%w: %w", ErrLint, err)
	}
	report := func(name, format string, args ...any) {
		rep.Problems++
		rep.Lines = append(rep.Lines, LintLine{Level: "fail", Name: name, Message: fmt.Sprintf(format, args...)})
	}
	for _, key := range DefaultKinds() {
		for _, ch := range Channels {
			if !set.Has(key, ch) {
				report(key+"/"+ch, "no template for this default notice kind")
			}
		}
	}
	for _, key := range set.Keys() {
		for _, ch := range Channels {
			c, ok := set.tmpls[key+"/"+ch]
			if !ok {
				continue
			}
			name := c.name()
			before := rep.Problems
			var unused []string
			for _, f := range c.fields {
				if !c.used[f.Name] {
					unused = append(unused, f.Name)
				}
			}
			r, err := c.render(Input{Recipient: SampleRecipient(), Data: sampleFor(key, c.fields)}, set.agency)
			if err != nil {
				report(name, "%v", err)
				continue
			}
			if strings.TrimSpace(r.Text) == "" {
				report(name, "the text is empty")
			}
			if ch == "email" {
				for _, p := range htmlProblems(r) {
					report(name, "%s", p)
				}
			}
			if rep.Problems == before {
				msg := ""
				if r.SMS != nil {
					msg = fmt.Sprintf("%s, %d/%d segments, %d characters", r.SMS.Encoding, r.SMS.Segments, c.maxSegments, r.SMS.Characters)
				}
				rep.Lines = append(rep.Lines, LintLine{Level: "ok", Name: name, Message: msg})
			}
			if len(unused) > 0 {
				rep.Lines = append(rep.Lines, LintLine{Level: "warn", Name: name, Message: "declared but unused: " + strings.Join(unused, ", ")})
			}
		}
	}
	rep.Templates = len(set.tmpls)
	if rep.Problems > 0 {
		return rep, fmt.Errorf("%w: %d", ErrLint, rep.Problems)
	}
	return rep, nil
}

var (
	reLang    = regexp.MustCompile(`(?i)<html[^>]*\blang="fr"`)
	reTitle   = regexp.MustCompile(`(?is)<title>\s*(\S.*?)</title>`)
	reHeading = regexp.MustCompile(`(?is)<h([1-6])[^>]*>(.*?)</h[1-6]>`)
	reImg     = regexp.MustCompile(`(?is)<img\b[^>]*>`)
	reAlt     = regexp.MustCompile(`(?i)\balt="[^"]*"`)
	reTag     = regexp.MustCompile(`(?s)<[^>]*>`)
)

// htmlProblems checks a rendered email against the accessibility rules.
func htmlProblems(r *Rendered) []string {
	var out []string
	h := r.HTML
	if !reLang.MatchString(h) {
		out = append(out, `HTML lacks <html lang="fr">`)
	}
	if !reTitle.MatchString(h) {
		out = append(out, "HTML lacks a non-empty <title>")
	}
	if strings.TrimSpace(r.Subject) == "" {
		out = append(out, "the subject is empty")
	}
	hs := reHeading.FindAllStringSubmatch(h, -1)
	h1, prev := 0, 0
	for _, m := range hs {
		level := int(m[1][0] - '0')
		if level == 1 {
			h1++
		}
		if prev == 0 && level != 1 {
			out = append(out, "the first heading is not an h1")
		}
		if prev != 0 && level > prev+1 {
			out = append(out, fmt.Sprintf("heading level jumps from h%d to h%d", prev, level))
		}
		prev = level
		text := strings.TrimSpace(html.UnescapeString(reTag.ReplaceAllString(m[2], "")))
		if !strings.Contains(strings.ToLower(r.Text), strings.ToLower(text)) {
			out = append(out, fmt.Sprintf("heading %q is missing from the plain-text part", text))
		}
	}
	if h1 != 1 {
		out = append(out, fmt.Sprintf("HTML has %d h1 headings, want exactly 1", h1))
	}
	for _, img := range reImg.FindAllString(h, -1) {
		if !reAlt.MatchString(img) {
			out = append(out, "an image has no alt text: "+img)
		}
	}
	return out
}

// Preview is one rendered message with what an operator checks before
// sending it.
type Preview struct {
	*Rendered
	File        string `json:"file"`                   // where the template was loaded from
	MaxSegments int    `json:"max_segments,omitempty"` // SMS budget
}

// PreviewMessage renders the template of kind key on channel (default
// "email") for in; a nil in uses SampleRecipient with the kind's
// SampleData (made-up values for a kind without samples).
func (s *Set) PreviewMessage(key, channel string, in *Input) (*Preview, error) {
	if channel == "" {
		channel = "email"
	}
	if !s.Has(key, channel) {
		return nil, fmt.Errorf("templates: no template for %q on channel %q (see `courrier templates list`)", key, channel)
	}
	if in == nil {
		in = &Input{Recipient: SampleRecipient(), Data: SampleData(key)}
		if in.Data == nil {
			in.Data = syntheticData(s.Fields(key, channel))
		}
	}
	r, err := s.Render(key, channel, *in)
	if err != nil {
		return nil, err
	}
	c := s.tmpls[key+"/"+channel]
	p := &Preview{Rendered: r, File: c.file}
	if r.SMS != nil {
		p.MaxSegments = c.maxSegments
	}
	return p, nil
}

// DecodeInput reads a message's input as JSON: either
// {"recipient": {"ref", "civility", "given_name", "family_name"}, "data": {…}}
// or just the data object (the sample recipient is then used). Numbers are
// kept as json.Number.
func DecodeInput(r io.Reader) (Input, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return Input{}, fmt.Errorf("templates: read input: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return Input{}, fmt.Errorf("templates: input must be a JSON object: %w", err)
	}
	in := Input{Recipient: SampleRecipient()}
	raw := json.RawMessage(b)
	if d, ok := top["data"]; ok {
		raw = d
		if rec, ok := top["recipient"]; ok {
			var rr struct {
				Ref        string `json:"ref"`
				Civility   string `json:"civility"`
				GivenName  string `json:"given_name"`
				FamilyName string `json:"family_name"`
			}
			if err := json.Unmarshal(rec, &rr); err != nil {
				return Input{}, fmt.Errorf("templates: input recipient: %w", err)
			}
			in.Recipient = Recipient{Ref: rr.Ref, Civility: rr.Civility, GivenName: rr.GivenName, FamilyName: rr.FamilyName}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&in.Data); err != nil {
		return Input{}, fmt.Errorf("templates: input data: %w", err)
	}
	return in, nil
}
