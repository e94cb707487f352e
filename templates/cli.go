package templates

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
)

// ListCommand implements `courrier templates list`: one line per template
// with its kind, channel, version, declared fields and source file.
func ListCommand(w io.Writer, set *Set) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCHANNEL\tVERSION\tFIELDS\tFILE")
	for _, key := range set.Keys() {
		for _, ch := range Channels {
			c, ok := set.tmpls[key+"/"+ch]
			if !ok {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t(missing)\n", key, ch)
				continue
			}
			fs := make([]string, len(c.fields))
			for i, f := range c.fields {
				fs[i] = f.Name + ":" + string(f.Type)
			}
			fields := strings.Join(fs, " ")
			if fields == "" {
				fields = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", key, ch, c.version[:12], fields, c.file)
		}
	}
	return tw.Flush()
}

// ErrLint is returned by LintCommand when any template has a problem.
var ErrLint = errors.New("templates: lint found problems")

// LintCommand implements `courrier templates lint`: it loads the templates
// (defaults and opts.OverrideDir), checks that every default notice kind has
// a template on every channel, renders every template with its sample data
// (SampleData, completed with made-up values for fields it lacks), enforces
// the SMS segment budget, and checks the HTML rules (lang="fr", a title, one
// h1, headings in order, no image without alt text, a plain-text part that
// carries every heading). It reports each problem on w and returns an error
// wrapping ErrLint if there was any. Declared but unused fields are warnings.
func LintCommand(w io.Writer, opts *Options) error {
	set, err := Load(opts)
	if err != nil {
		fmt.Fprintln(w, err)
		return fmt.Errorf("%w: %w", ErrLint, err)
	}
	problems := 0
	report := func(name, format string, args ...any) {
		problems++
		fmt.Fprintf(w, "FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
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
			before := problems
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
			if problems == before {
				extra := ""
				if r.SMS != nil {
					extra = fmt.Sprintf(" (%s, %d/%d segments, %d characters)", r.SMS.Encoding, r.SMS.Segments, c.maxSegments, r.SMS.Characters)
				}
				fmt.Fprintf(w, "ok   %s%s\n", name, extra)
			}
			if len(unused) > 0 {
				fmt.Fprintf(w, "warn %s: declared but unused: %s\n", name, strings.Join(unused, ", "))
			}
		}
	}
	fmt.Fprintf(w, "%d templates, %d problems\n", len(set.tmpls), problems)
	if problems > 0 {
		return fmt.Errorf("%w: %d", ErrLint, problems)
	}
	return nil
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

// PreviewOptions says what PreviewCommand renders.
type PreviewOptions struct {
	Key      string // notice kind
	Channel  string // "email", "sms" or "letter"
	DataFile string // JSON file read by DecodeInput; "" uses SampleRecipient and SampleData; "-" reads stdin
	OutDir   string // if set, write subject.txt, message.txt and message.html there instead of printing them
	Stdin    io.Reader
}

// PreviewCommand implements `courrier templates preview KIND --channel C
// --data FILE [--out DIR]`: it renders one message and prints it (or writes
// it to OutDir), with its version and, for SMS, its encoding and segments.
func PreviewCommand(w io.Writer, set *Set, p PreviewOptions) error {
	if p.Channel == "" {
		p.Channel = "email"
	}
	if !set.Has(p.Key, p.Channel) {
		return fmt.Errorf("templates: no template for %q on channel %q (see `courrier templates list`)", p.Key, p.Channel)
	}
	in := Input{Recipient: SampleRecipient(), Data: SampleData(p.Key)}
	if in.Data == nil {
		in.Data = syntheticData(set.Fields(p.Key, p.Channel))
	}
	if p.DataFile != "" {
		var r io.Reader
		if p.DataFile == "-" {
			r = p.Stdin
			if r == nil {
				r = os.Stdin
			}
		} else {
			f, err := os.Open(p.DataFile)
			if err != nil {
				return fmt.Errorf("templates: preview data: %w", err)
			}
			defer f.Close()
			r = f
		}
		var err error
		if in, err = DecodeInput(r); err != nil {
			return err
		}
	}
	r, err := set.Render(p.Key, p.Channel, in)
	if err != nil {
		return err
	}
	c := set.tmpls[p.Key+"/"+p.Channel]
	fmt.Fprintf(w, "Template: %s/%s\nVersion:  %s\nFile:     %s\n", r.Key, r.Channel, r.Version, c.file)
	if r.SMS != nil {
		fmt.Fprintf(w, "SMS:      %s, %d segment(s) of at most %d, %d characters\n", r.SMS.Encoding, r.SMS.Segments, c.maxSegments, r.SMS.Characters)
	}
	if p.OutDir != "" {
		if err := os.MkdirAll(p.OutDir, 0o755); err != nil {
			return fmt.Errorf("templates: preview: %w", err)
		}
		files := map[string]string{"message.txt": r.Text}
		if r.Subject != "" {
			files["subject.txt"] = r.Subject + "\n"
		}
		if r.HTML != "" {
			files["message.html"] = r.HTML
		}
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			path := filepath.Join(p.OutDir, n)
			if err := os.WriteFile(path, []byte(files[n]), 0o644); err != nil {
				return fmt.Errorf("templates: preview: %w", err)
			}
			fmt.Fprintf(w, "Wrote:    %s\n", path)
		}
		return nil
	}
	if r.Subject != "" {
		fmt.Fprintf(w, "Subject:  %s\n", r.Subject)
	}
	fmt.Fprintf(w, "\n----- text -----\n%s", r.Text)
	if !strings.HasSuffix(r.Text, "\n") {
		fmt.Fprintln(w)
	}
	if r.HTML != "" {
		fmt.Fprintf(w, "\n----- html -----\n%s", r.HTML)
	}
	return nil
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
