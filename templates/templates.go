package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"text/template/parse"
)

//go:embed all:defaults
var defaultFiles embed.FS

// Recipient is who a message is addressed to. Its fields are always available
// to templates as .Recipient.Ref, .Recipient.Civility, .Recipient.GivenName
// and .Recipient.FamilyName.
type Recipient struct {
	Ref, Civility, GivenName, FamilyName string // Civility is "M.", "Mme" or ""
}

// Input is what a message is rendered from.
type Input struct {
	Recipient Recipient
	// Data is the notice's data, decoded from JSON: numbers arrive as float64
	// or json.Number, dates as "2027-03-15" or RFC 3339 strings.
	Data map[string]any
	// Agency is the beneficiary's Caf (see AgencyOf); nil means the set's.
	Agency *Agency
}

// Options configures Load.
type Options struct {
	OverrideDir string // optional directory whose files replace or add to the embedded defaults
	Agency      Agency // agency data shown in general mailings etc.; empty fields take DefaultAgency's
}

// Agency is the configurable agency data templates show as .Agency. Code,
// Letterhead and ReturnAddress may be empty; the others take DefaultAgency's
// when empty.
type Agency struct {
	Name, MediatorContact, ReceptionHours, BusyHours, Website, Phone string
	Code                                                             string // the Caf's code, e.g. "974"
	Letterhead                                                       string // lines at the top of letters
	ReturnAddress                                                    string // the letter's return address
}

// DefaultAgency returns the agency data used when Options leaves it empty.
func DefaultAgency() Agency {
	return Agency{
		Name:            "Caf",
		MediatorContact: "Médiateur de la Caf, par courrier ou depuis votre espace Mon Compte sur caf.fr (rubrique « Contacter ma Caf », puis « Le médiateur »)",
		ReceptionHours:  "du lundi au vendredi, de 8 h 30 à 16 h 30, sur rendez-vous",
		BusyHours:       "les lundis et mardis matin, ainsi que les cinq premiers jours de chaque mois",
		Website:         "https://www.caf.fr",
		Phone:           "3230 (service gratuit + prix d'un appel)",
	}
}

// withDefaults fills a's empty fields from DefaultAgency.
func (a Agency) withDefaults() Agency {
	d := DefaultAgency()
	for _, p := range []struct{ v, def *string }{
		{&a.Name, &d.Name}, {&a.MediatorContact, &d.MediatorContact}, {&a.ReceptionHours, &d.ReceptionHours},
		{&a.BusyHours, &d.BusyHours}, {&a.Website, &d.Website}, {&a.Phone, &d.Phone},
	} {
		if strings.TrimSpace(*p.v) == "" {
			*p.v = *p.def
		}
	}
	return a
}

// Rendered is a rendered message.
type Rendered struct {
	Key, Channel, Version string // Version is the hex SHA-256 of the template source
	Subject, Text, HTML   string // email: all three; sms: Text; letter: Text (Subject and HTML if the template has them)
	SMS                   *SMSInfo
}

// RenderError is a data problem (a missing or mistyped field) or an SMS over
// its segment budget. It will not go away on retry: the caller fails the
// notice permanently with Error() as the reason.
type RenderError struct {
	Template string // kind/channel, e.g. "rights_opened/email"
	Field    string // the offending field, if any
	Expected string // the field's declared type, if any
	Reason   string
}

// Error names the template, the field and its expected type.
func (e *RenderError) Error() string {
	var b strings.Builder
	b.WriteString("template " + e.Template)
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	if e.Expected != "" {
		b.WriteString(": expected " + e.Expected)
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	return b.String()
}

// Set is a loaded, validated set of templates. It is safe for concurrent use.
type Set struct {
	agency Agency
	tmpls  map[string]*compiled // by key + "/" + channel
	files  []string             // display names of the files loaded, for list
	saved  sync.Map             // versions known to be committed in template_versions
}

// compiled is one template ready to render.
type compiled struct {
	key, channel string
	file         string // display name: where it was loaded from
	base         string // file name inside the bundle
	source       string // the bundle: file + partials
	version      string
	fields       []Field
	description  string
	maxSegments  int
	translit     bool
	used         map[string]bool // declared fields the template uses
	subject      *texttemplate.Template
	html         *htmltemplate.Template
	text         *texttemplate.Template
	htmlEntry    string // template to execute for html
	textEntry    string // template to execute for text
	// The parts split around the recipient (see skeleton.go); nil when a
	// part cannot be split.
	textSkel, htmlSkel *skeleton
}

// srcFile is a template file's content and where it came from.
type srcFile struct {
	display, content string
}

// Load reads the embedded defaults and opts.OverrideDir, then parses and
// validates every template. Errors name the file and line. opts may be nil.
func Load(opts *Options) (*Set, error) {
	if opts == nil {
		opts = &Options{}
	}
	files := map[string]srcFile{}
	err := fs.WalkDir(defaultFiles, "defaults", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".tmpl") {
			return err
		}
		b, err := defaultFiles.ReadFile(p)
		if err != nil {
			return err
		}
		files[path.Base(p)] = srcFile{display: p, content: string(b)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("templates: read defaults: %w", err)
	}
	if opts.OverrideDir != "" {
		entries, err := os.ReadDir(opts.OverrideDir)
		if err != nil {
			return nil, fmt.Errorf("templates: override directory: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".tmpl") {
				continue
			}
			p := filepath.Join(opts.OverrideDir, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("templates: %w", err)
			}
			files[e.Name()] = srcFile{display: p, content: string(b)}
		}
	}
	return build(files, opts.Agency.withDefaults())
}

// isPartial says whether a file holds shared {{define}} blocks rather than a
// template: partial files start with "_" and end in .html.tmpl or .txt.tmpl.
func isPartial(name string) bool { return strings.HasPrefix(name, "_") }

func build(files map[string]srcFile, agency Agency) (*Set, error) {
	partials := map[string]srcFile{}
	var names []string
	for name, f := range files {
		if isPartial(name) {
			if !strings.HasSuffix(name, ".html.tmpl") && !strings.HasSuffix(name, ".txt.tmpl") {
				return nil, fileError(f.display, 1, "a partial file must end in .html.tmpl or .txt.tmpl")
			}
			partials[name] = f
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	s := &Set{agency: agency, tmpls: map[string]*compiled{}}
	var errs []error
	for _, name := range names {
		c, err := compileFile(name, files[name], partials)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k := c.key + "/" + c.channel
		if prev, dup := s.tmpls[k]; dup {
			errs = append(errs, fileError(c.file, 1, "%s is already defined by %s", k, prev.file))
			continue
		}
		s.tmpls[k] = c
		s.files = append(s.files, c.file)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("templates: %w", errors.Join(errs...))
	}
	return s, nil
}

// bundle serialises a template file and the partials it is compiled with into
// one self-contained source, the unit that is versioned and stored.
func bundle(name, content string, partials map[string]string) string {
	var b strings.Builder
	b.WriteString(bundleMagic + "\n")
	write := func(n, c string) {
		fmt.Fprintf(&b, "file %s %d\n%s\n", n, len(c), c)
	}
	write(name, content)
	pn := make([]string, 0, len(partials))
	for n := range partials {
		pn = append(pn, n)
	}
	sort.Strings(pn)
	for _, n := range pn {
		write(n, partials[n])
	}
	return b.String()
}

const bundleMagic = "courrier-template-bundle/1"

// unbundle is the inverse of bundle: the first file and the partials.
func unbundle(src string) (name, content string, partials map[string]string, err error) {
	rest, ok := strings.CutPrefix(src, bundleMagic+"\n")
	if !ok {
		return "", "", nil, errors.New("not a template bundle")
	}
	partials = map[string]string{}
	first := true
	for rest != "" {
		hdr, after, ok := strings.Cut(rest, "\n")
		f := strings.Fields(hdr)
		if !ok || len(f) != 3 || f[0] != "file" {
			return "", "", nil, errors.New("corrupt template bundle header")
		}
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 0 || n+1 > len(after) || after[n] != '\n' {
			return "", "", nil, errors.New("corrupt template bundle length")
		}
		if first {
			name, content, first = f[1], after[:n], false
		} else {
			partials[f[1]] = after[:n]
		}
		rest = after[n+1:]
	}
	if first {
		return "", "", nil, errors.New("empty template bundle")
	}
	return name, content, partials, nil
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// compileFile parses one template file with the partials its channel uses.
func compileFile(name string, f srcFile, allPartials map[string]srcFile) (*compiled, error) {
	h, sections, err := parseFile(f.display, f.content)
	if err != nil {
		return nil, err
	}
	_, hasHTML := sections["html"]
	used := map[string]srcFile{}
	for pn, p := range allPartials {
		if strings.HasSuffix(pn, ".txt.tmpl") || (hasHTML && strings.HasSuffix(pn, ".html.tmpl")) {
			used[pn] = p
		}
	}
	contents := map[string]string{}
	for pn, p := range used {
		contents[pn] = p.content
	}
	src := bundle(name, f.content, contents)
	return compile(name, f.display, h, sections, used, src)
}

func compile(base, display string, h *header, sections map[string]section, partials map[string]srcFile, src string) (*compiled, error) {
	c := &compiled{
		key: h.kind, channel: h.channel, file: display, base: base,
		source: src, version: hashHex(src), fields: h.fields, description: h.description,
		maxSegments: h.maxSegments, translit: h.transliterate, used: map[string]bool{},
	}
	declared := map[string]bool{}
	for _, fd := range h.fields {
		declared[fd.Name] = true
	}
	pnames := make([]string, 0, len(partials))
	for n := range partials {
		pnames = append(pnames, n)
	}
	sort.Strings(pnames)

	// Partials may use only .Recipient, .Agency and .Subject: they are shared.
	var trees []*parse.Tree
	if h.subject != "" {
		t, err := texttemplate.New(display).Option("missingkey=error").Funcs(funcs()).Parse(padded(h.subject, h.subjectLine))
		if err != nil {
			return nil, err
		}
		if err := checkTrees([]*parse.Tree{t.Tree}, declared, nil, false, c.used); err != nil {
			return nil, err
		}
		c.subject = t
	}

	text := texttemplate.New(display).Option("missingkey=error").Funcs(funcs())
	if _, err := text.Parse(padded(sections["text"].body, sections["text"].line)); err != nil {
		return nil, err
	}
	textPartials := map[string]bool{}
	for _, pn := range pnames {
		if strings.HasSuffix(pn, ".txt.tmpl") {
			if _, err := text.New(partials[pn].display).Parse(partials[pn].content); err != nil {
				return nil, err
			}
			textPartials[partials[pn].display] = true
		}
	}
	// "content" is the template itself, for the layouts to call.
	if _, err := text.New("content").Parse(`{{template ` + strconv.Quote(display) + ` .}}`); err != nil {
		return nil, err
	}
	c.text, c.textEntry = text, display
	if h.channel == "email" {
		if text.Lookup("email_text") == nil {
			return nil, fileError(display, 1, "no text partial defines \"email_text\", the email text layout")
		}
		c.textEntry = "email_text"
	}
	var textTrees []*parse.Tree
	for _, t := range text.Templates() {
		if t.Tree != nil {
			textTrees = append(textTrees, t.Tree)
		}
	}
	trees = append(trees, textTrees...)
	if err := checkTrees(trees, declared, textPartials, true, c.used); err != nil {
		return nil, err
	}
	c.textSkel = textSkeleton(textTrees, c.textEntry)

	if sec, ok := sections["html"]; ok {
		ht := htmltemplate.New(display).Option("missingkey=error").Funcs(funcs())
		if _, err := ht.Parse(padded(sec.body, sec.line)); err != nil {
			return nil, err
		}
		htmlPartials := map[string]bool{}
		for _, pn := range pnames {
			if strings.HasSuffix(pn, ".html.tmpl") {
				if _, err := ht.New(partials[pn].display).Parse(partials[pn].content); err != nil {
					return nil, err
				}
				htmlPartials[partials[pn].display] = true
			}
		}
		if _, err := ht.New("content").Parse(`{{template ` + strconv.Quote(display) + ` .}}`); err != nil {
			return nil, err
		}
		c.htmlEntry = display
		if h.channel == "email" {
			if ht.Lookup("email_html") == nil {
				return nil, fileError(display, 1, "no html partial defines \"email_html\", the email layout")
			}
			c.htmlEntry = "email_html"
		}
		var htrees []*parse.Tree
		for _, t := range ht.Templates() {
			if t.Tree != nil {
				htrees = append(htrees, t.Tree)
			}
		}
		if err := checkTrees(htrees, declared, htmlPartials, true, c.used); err != nil {
			return nil, err
		}
		unescaped := make([]*parse.Tree, len(htrees))
		for i, t := range htrees {
			unescaped[i] = t.Copy()
		}
		// Escape now so that a context error is a load error, not a send error.
		if err := ht.Lookup(c.htmlEntry).Execute(io.Discard, nil); err != nil {
			var he *htmltemplate.Error
			if errors.As(err, &he) {
				if !strings.Contains(err.Error(), display) {
					// The error surfaced in a partial (the layout), but the
					// cause is this file's HTML section.
					return nil, fileError(display, sec.line, "%v", err)
				}
				return nil, err
			}
		}
		c.html = ht
		c.htmlSkel = htmlSkeleton(unescaped, c.htmlEntry)
	}
	return c, nil
}

// rootFields are the names templates may use besides their declared fields.
var rootFields = map[string]map[string]bool{
	"Recipient": {"Ref": true, "Civility": true, "GivenName": true, "FamilyName": true},
	"Agency": {"Name": true, "MediatorContact": true, "ReceptionHours": true, "BusyHours": true, "Website": true, "Phone": true,
		"Code": true, "Letterhead": true, "ReturnAddress": true},
	"Subject": {},
}

// checkTrees walks parsed templates and rejects any use of a field that is not
// declared (or not a Recipient/Agency field), and calls to templates that do
// not exist. Trees parsed from partial files (in partials) may only use the
// root fields. Where dot is not the root (inside range and with), fields are
// relative to another value and only $-rooted ones are checked.
func checkTrees(trees []*parse.Tree, declared, partials map[string]bool, resolveCalls bool, used map[string]bool) error {
	defined := map[string]bool{}
	for _, t := range trees {
		defined[t.Name] = true
	}
	for _, t := range trees {
		decl := declared
		if partials[t.ParseName] {
			decl = nil
		}
		w := &walker{tree: t, declared: decl, defined: defined, resolveCalls: resolveCalls, used: used}
		w.node(t.Root, true)
		if w.err != nil {
			return w.err
		}
	}
	return nil
}

type walker struct {
	tree         *parse.Tree
	declared     map[string]bool
	defined      map[string]bool
	resolveCalls bool
	used         map[string]bool // declared fields seen, if not nil
	err          error
}

func (w *walker) fail(n parse.Node, format string, args ...any) {
	if w.err != nil {
		return
	}
	loc, _ := w.tree.ErrorContext(n)
	w.err = fmt.Errorf("%s: %s", loc, fmt.Sprintf(format, args...))
}

func (w *walker) idents(n parse.Node, ident []string) {
	if len(ident) == 0 {
		return
	}
	head := ident[0]
	if sub, ok := rootFields[head]; ok {
		if len(ident) > 1 && !sub[ident[1]] {
			w.fail(n, "unknown field .%s.%s", head, ident[1])
		}
		return
	}
	if !w.declared[head] {
		w.fail(n, "field %q is not declared in the front matter", head)
		return
	}
	if w.used != nil {
		w.used[head] = true
	}
	if len(ident) > 1 {
		w.fail(n, "field %q has no sub-field %q", head, ident[1])
	}
}

func (w *walker) node(n parse.Node, dotIsRoot bool) {
	if n == nil || w.err != nil {
		return
	}
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			w.node(c, dotIsRoot)
		}
	case *parse.ActionNode:
		w.node(x.Pipe, dotIsRoot)
	case *parse.PipeNode:
		if x == nil {
			return
		}
		for _, c := range x.Cmds {
			w.node(c, dotIsRoot)
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			w.node(a, dotIsRoot)
		}
	case *parse.FieldNode:
		if dotIsRoot {
			w.idents(x, x.Ident)
		}
	case *parse.VariableNode:
		if len(x.Ident) > 1 && x.Ident[0] == "$" {
			w.idents(x, x.Ident[1:])
		}
	case *parse.ChainNode:
		w.node(x.Node, dotIsRoot)
	case *parse.IfNode:
		w.node(x.Pipe, dotIsRoot)
		w.node(x.List, dotIsRoot)
		w.node(x.ElseList, dotIsRoot)
	case *parse.RangeNode:
		w.node(x.Pipe, dotIsRoot)
		w.node(x.List, false)
		w.node(x.ElseList, dotIsRoot)
	case *parse.WithNode:
		w.node(x.Pipe, dotIsRoot)
		w.node(x.List, false)
		w.node(x.ElseList, dotIsRoot)
	case *parse.TemplateNode:
		if w.resolveCalls && !w.defined[x.Name] {
			w.fail(x, "template %q is not defined", x.Name)
		}
		// A called template receives its own dot: the root only if passed ".".
		w.node(x.Pipe, dotIsRoot)
	}
}

// Has reports whether the set has a template for key on channel
// ("email", "sms" or "letter").
func (s *Set) Has(key, channel string) bool {
	_, ok := s.tmpls[key+"/"+channel]
	return ok
}

// Keys returns the notice kinds with at least one template, sorted.
func (s *Set) Keys() []string {
	seen := map[string]bool{}
	var keys []string
	for _, c := range s.tmpls {
		if !seen[c.key] {
			seen[c.key] = true
			keys = append(keys, c.key)
		}
	}
	sort.Strings(keys)
	return keys
}

// Fields returns the data fields the template for key on channel declares, in
// declaration order, or nil if there is no such template.
func (s *Set) Fields(key, channel string) []Field {
	c, ok := s.tmpls[key+"/"+channel]
	if !ok {
		return nil
	}
	return append([]Field(nil), c.fields...)
}

// KindFields returns the union of the fields key's templates declare on all
// channels, sorted by name: the data a notice of that kind must carry to be
// renderable on any channel.
func (s *Set) KindFields(key string) []Field {
	byName := map[string]Field{}
	for _, ch := range Channels {
		for _, f := range s.Fields(key, ch) {
			if _, ok := byName[f.Name]; !ok || byName[f.Name].Description == "" {
				byName[f.Name] = f
			}
		}
	}
	out := make([]Field, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Version returns the version the template for key on channel renders with,
// or "" if there is none.
func (s *Set) Version(key, channel string) string {
	if c, ok := s.tmpls[key+"/"+channel]; ok {
		return c.version
	}
	return ""
}

// Render validates in.Data against the template's declared fields and renders
// the template for key on channel. Data problems and an SMS over budget are
// returned as *RenderError.
func (s *Set) Render(key, channel string, in Input) (*Rendered, error) {
	c, ok := s.tmpls[key+"/"+channel]
	if !ok {
		return nil, fmt.Errorf("templates: no template for %s on channel %s", key, channel)
	}
	agency := s.agency
	if in.Agency != nil {
		agency = in.Agency.withDefaults()
	}
	return c.render(in, agency)
}

func (c *compiled) name() string { return c.key + "/" + c.channel }

func (c *compiled) render(in Input, agency Agency) (*Rendered, error) {
	return c.renderWith(in, agency, true)
}

// renderWith renders with the skeletons when skel is true (and the template
// has them), else executes the whole templates: the output is the same.
func (c *compiled) renderWith(in Input, agency Agency, skel bool) (*Rendered, error) {
	data := make(map[string]any, len(c.fields)+3)
	for _, f := range c.fields {
		v, ok := in.Data[f.Name]
		if !ok || v == nil {
			return nil, &RenderError{Template: c.name(), Field: f.Name, Expected: string(f.Type), Reason: "missing"}
		}
		cv, reason := convert(f.Type, v)
		if reason != "" {
			return nil, &RenderError{Template: c.name(), Field: f.Name, Expected: string(f.Type), Reason: reason}
		}
		data[f.Name] = cv
	}
	data["Recipient"] = in.Recipient
	data["Agency"] = agency
	data["Subject"] = ""
	r := &Rendered{Key: c.key, Channel: c.channel, Version: c.version}
	var buf bytes.Buffer
	if c.subject != nil {
		if err := c.subject.Execute(&buf, data); err != nil {
			return nil, c.execError(err)
		}
		r.Subject = collapseSpace(buf.String())
		data["Subject"] = r.Subject
	}
	textSkel, htmlSkel := c.textSkel, c.htmlSkel
	if !skel {
		textSkel, htmlSkel = nil, nil
	}
	key := ""
	if textSkel != nil || htmlSkel != nil {
		key = skeletonKey(c, data)
	}
	buf.Reset()
	if textSkel == nil || !textSkel.render(&buf, key, data) {
		buf.Reset()
		if err := c.text.ExecuteTemplate(&buf, c.textEntry, data); err != nil {
			return nil, c.execError(err)
		}
	}
	r.Text = tidyText(buf.String())
	if c.html != nil {
		buf.Reset()
		if htmlSkel == nil || !htmlSkel.render(&buf, key, data) {
			buf.Reset()
			if err := c.html.ExecuteTemplate(&buf, c.htmlEntry, data); err != nil {
				return nil, c.execError(err)
			}
		}
		r.HTML = strings.TrimSpace(buf.String()) + "\n"
	}
	if c.channel == "sms" {
		r.Text = collapseSpace(r.Text)
		if c.translit {
			r.Text = TransliterateGSM(r.Text)
		}
		info := AnalyzeSMS(r.Text)
		r.SMS = &info
		if info.Segments > c.maxSegments {
			return nil, &RenderError{Template: c.name(), Reason: fmt.Sprintf(
				"SMS needs %d segments (%d %s units), over its budget of %d", info.Segments, info.Characters, info.Encoding, c.maxSegments)}
		}
	}
	return r, nil
}

// execError turns an execution error into a RenderError: data was validated,
// so what is left is a helper refusing a value.
func (c *compiled) execError(err error) error {
	return &RenderError{Template: c.name(), Reason: err.Error()}
}

// tidyText trims trailing spaces on each line, collapses runs of blank lines
// left by actions, and ends the text with one newline.
func tidyText(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n") + "\n"
}

// collapseSpace turns runs of ASCII whitespace (newlines included) into one
// space and trims the ends. No-break spaces are kept: they are typography.
func collapseSpace(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r'
	}), " ")
}
