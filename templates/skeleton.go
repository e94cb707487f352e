package templates

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	htmltemplate "html/template"
	"io"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"text/template/parse"
)

// A campaign sends one template version with the same data and agency to
// thousands of recipients: only the recipient's fields differ. A skeleton
// renders a template once per (data, agency, subject) with each action that
// reads the recipient (a "hole", e.g. {{salutation .Recipient}} or
// {{.Recipient.Ref}}) left as a marker, then fills the holes per message by
// executing each hole's action alone. The result is byte for byte the plain
// render (TestSkeletonMatchesPlainRender): a hole is executed by the same
// text/template or html/template machinery, with the same data and, for
// HTML, the same escaper (only holes in HTML text context, escaped by
// html/template's HTML escaper, qualify). A template that reads the
// recipient anywhere else (a condition, a range, a variable, a template
// call with another dot) has no skeleton and renders plainly.

// holeFunc is the helper a hole's action is replaced with in the skeleton.
const holeFunc = "courrier_hole"

// Markers around a hole's number in the skeleton's output: private-use code
// points, which no escaper changes, and a random nonce drawn per skeleton,
// so that data (the subject may quote the recipient) cannot forge a
// marker. A template whose source contains one has no skeleton.
const (
	holeOpen  = "\uE000"
	holeClose = "\uE001"
)

// skeletonCacheSize bounds the rendered skeletons kept per template part:
// a mailing uses one per agency.
const skeletonCacheSize = 128

// skeletonSeenSize bounds the keys remembered as seen once. A skeleton is
// rendered for a key only when it comes back: a notice with data of its own
// (a rights notice, an acknowledgement) renders plainly, at no extra cost,
// and fills no cache.
const skeletonSeenSize = 4096

// skeleton is one part (text or HTML) of a template split around its holes.
type skeleton struct {
	exec  func(io.Writer, map[string]any) error // the skeleton, holes as markers
	holes []func(io.Writer, map[string]any) error
	open  string // holeOpen and the nonce

	mu    sync.Mutex
	cache map[string]*skeletonOutput
	seen  map[uint64]struct{} // hashes of keys seen once
	seed  maphash.Seed
}

// skeletonOutput is a skeleton executed for one key: the text around the
// holes (len(holes)+1 pieces) and the hole filling each gap.
type skeletonOutput struct {
	text  []string
	holes []int
}

// render writes the part for data (the same map a plain render executes)
// into buf. ok is false when the caller must render plainly: the key's
// first use, or an execution error (which the plain render reports with its
// own wording).
func (s *skeleton) render(buf *bytes.Buffer, key string, data map[string]any) (ok bool) {
	s.mu.Lock()
	out := s.cache[key]
	if out == nil {
		h := maphash.String(s.seed, key)
		if _, again := s.seen[h]; !again {
			if len(s.seen) >= skeletonSeenSize {
				clear(s.seen)
			}
			s.seen[h] = struct{}{}
			s.mu.Unlock()
			return false
		}
	}
	s.mu.Unlock()
	if out == nil {
		var b bytes.Buffer
		if err := s.exec(&b, data); err != nil {
			return false
		}
		var ok bool
		if out, ok = splitHoles(b.String(), s.open, len(s.holes)); !ok {
			return false
		}
		s.mu.Lock()
		if len(s.cache) >= skeletonCacheSize {
			clear(s.cache)
		}
		s.cache[key] = out
		s.mu.Unlock()
	}
	for i, h := range out.holes {
		buf.WriteString(out.text[i])
		if err := s.holes[h](buf, data); err != nil {
			return false
		}
	}
	buf.WriteString(out.text[len(out.text)-1])
	return true
}

func newSkeleton(open string) *skeleton {
	return &skeleton{cache: map[string]*skeletonOutput{}, seen: map[uint64]struct{}{}, seed: maphash.MakeSeed(), open: open}
}

// splitHoles cuts a skeleton's output at its markers (open, a number,
// holeClose).
func splitHoles(s, open string, n int) (*skeletonOutput, bool) {
	out := &skeletonOutput{}
	for {
		i := strings.Index(s, open)
		if i < 0 {
			out.text = append(out.text, s)
			return out, true
		}
		out.text = append(out.text, s[:i])
		rest := s[i+len(open):]
		j := strings.Index(rest, holeClose)
		if j < 0 {
			return nil, false
		}
		h, err := strconv.Atoi(rest[:j])
		if err != nil || h < 0 || h >= n {
			return nil, false
		}
		out.holes = append(out.holes, h)
		s = rest[j+len(holeClose):]
	}
}

// skeletonKey identifies what a skeleton's output depends on: everything in
// data but the recipient. Strings are written with their length, other
// field values (of the few types convert returns) with %#v: unambiguous.
func skeletonKey(c *compiled, data map[string]any) string {
	var b strings.Builder
	str := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	for _, f := range c.fields {
		switch v := data[f.Name].(type) {
		case string:
			b.WriteByte('s')
			str(v)
		default:
			fmt.Fprintf(&b, "v%#v\x00", v)
		}
	}
	a, _ := data["Agency"].(Agency)
	for _, s := range [...]string{a.Name, a.MediatorContact, a.ReceptionHours, a.BusyHours, a.Website, a.Phone, a.Code, a.Letterhead, a.ReturnAddress} {
		str(s)
	}
	subject, _ := data["Subject"].(string)
	str(subject)
	return b.String()
}

// holeFinder walks the trees of one part, collecting the holes and refusing
// (ok false) any other use of the recipient.
type holeFinder struct {
	holes []*parse.ActionNode
	ok    bool
}

// readsRecipient says whether a node could read the recipient: .Recipient,
// $.Recipient, or the whole root (. or $) where dot is the root.
func readsRecipient(n parse.Node, dotIsRoot bool) bool {
	switch x := n.(type) {
	case *parse.FieldNode:
		return dotIsRoot && len(x.Ident) > 0 && x.Ident[0] == "Recipient"
	case *parse.VariableNode:
		return x.Ident[0] == "$" && (len(x.Ident) == 1 || x.Ident[1] == "Recipient")
	case *parse.DotNode:
		return dotIsRoot
	case *parse.ChainNode:
		return readsRecipient(x.Node, dotIsRoot)
	case *parse.PipeNode:
		if x == nil {
			return false
		}
		for _, c := range x.Cmds {
			if readsRecipient(c, dotIsRoot) {
				return true
			}
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			if readsRecipient(a, dotIsRoot) {
				return true
			}
		}
	}
	return false
}

// simpleHole says whether an action reading the recipient can be executed
// alone: no variable declared, and only fields, $, constants and helper
// names as arguments (no variables of its own, nested pipelines or chains).
func simpleHole(a *parse.ActionNode) bool {
	if len(a.Pipe.Decl) > 0 || a.Pipe.IsAssign {
		return false
	}
	for _, c := range a.Pipe.Cmds {
		for i, arg := range c.Args {
			switch x := arg.(type) {
			case *parse.FieldNode, *parse.DotNode, *parse.StringNode, *parse.NumberNode, *parse.BoolNode, *parse.NilNode:
			case *parse.VariableNode:
				if x.Ident[0] != "$" {
					return false
				}
			case *parse.IdentifierNode:
				if i != 0 {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

func (f *holeFinder) list(l *parse.ListNode, dotIsRoot bool) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		f.node(n, dotIsRoot)
	}
}

func (f *holeFinder) node(n parse.Node, dotIsRoot bool) {
	if !f.ok {
		return
	}
	switch x := n.(type) {
	case *parse.ActionNode:
		if readsRecipient(x.Pipe, dotIsRoot) {
			if !dotIsRoot || !simpleHole(x) {
				f.ok = false
				return
			}
			f.holes = append(f.holes, x)
		}
	case *parse.IfNode:
		f.branch(&x.BranchNode, dotIsRoot, dotIsRoot)
	case *parse.RangeNode:
		f.branch(&x.BranchNode, dotIsRoot, false)
	case *parse.WithNode:
		f.branch(&x.BranchNode, dotIsRoot, false)
	case *parse.TemplateNode:
		// A called template's holes are evaluated with the root as dot:
		// only {{template "name" .}} from the root keeps that true.
		if x.Pipe != nil && !(dotIsRoot && len(x.Pipe.Cmds) == 1 && len(x.Pipe.Cmds[0].Args) == 1 && isDot(x.Pipe.Cmds[0].Args[0])) {
			f.ok = false
		}
	case *parse.BreakNode, *parse.ContinueNode, *parse.TextNode, *parse.CommentNode:
	case *parse.ListNode:
		f.list(x, dotIsRoot)
	default:
		f.ok = false
	}
}

func isDot(n parse.Node) bool {
	_, ok := n.(*parse.DotNode)
	return ok
}

func (f *holeFinder) branch(b *parse.BranchNode, dotIsRoot, bodyDotIsRoot bool) {
	if readsRecipient(b.Pipe, dotIsRoot) {
		f.ok = false
		return
	}
	f.list(b.List, bodyDotIsRoot)
	f.list(b.ElseList, dotIsRoot)
}

// findHoles collects the holes of every tree, or reports that the part
// cannot have a skeleton. A template called with a dot other than the root
// is refused at the call (holeFinder.node), so every tree is walked with
// the root as dot.
func findHoles(trees []*parse.Tree) ([]*parse.ActionNode, bool) {
	f := &holeFinder{ok: true}
	for _, t := range trees {
		if strings.Contains(t.Root.String(), holeOpen) || strings.Contains(t.Root.String(), holeClose) {
			return nil, false
		}
		f.list(t.Root, true)
		if !f.ok {
			return nil, false
		}
	}
	return f.holes, true
}

// holeAction returns the action that replaces hole i in the skeleton.
func holeAction(i int) *parse.ActionNode {
	src := "{{" + holeFunc + " " + strconv.Itoa(i) + "}}"
	trees, err := parse.Parse("hole", src, "", "", map[string]any{holeFunc: func(int) string { return "" }})
	if err != nil {
		panic(err) // a constant of this file
	}
	return trees["hole"].Root.Nodes[0].(*parse.ActionNode)
}

// replaceHoles returns copies of trees in which each hole is an action
// calling holeFunc with its number.
func replaceHoles(trees []*parse.Tree, holes []*parse.ActionNode) []*parse.Tree {
	index := map[*parse.ActionNode]int{}
	for i, h := range holes {
		index[h] = i
	}
	var walk func(l *parse.ListNode)
	walk = func(l *parse.ListNode) {
		if l == nil {
			return
		}
		for k, n := range l.Nodes {
			switch x := n.(type) {
			case *parse.ActionNode:
				if i, ok := index[x]; ok {
					l.Nodes[k] = holeAction(i)
				}
			case *parse.IfNode:
				walk(x.List)
				walk(x.ElseList)
			case *parse.RangeNode:
				walk(x.List)
				walk(x.ElseList)
			case *parse.WithNode:
				walk(x.List)
				walk(x.ElseList)
			case *parse.ListNode:
				walk(x)
			}
		}
	}
	out := make([]*parse.Tree, len(trees))
	for i, t := range trees {
		// The holes are the original's nodes: replace them in fresh lists.
		cp := *t
		cp.Root = shallowLists(t.Root)
		walk(cp.Root)
		out[i] = &cp
	}
	return out
}

// shallowLists copies the list nodes of a tree (and of its branches), keeping
// the other nodes: enough to replace actions without touching the original.
func shallowLists(l *parse.ListNode) *parse.ListNode {
	if l == nil {
		return nil
	}
	cp := &parse.ListNode{NodeType: l.NodeType, Pos: l.Pos, Nodes: make([]parse.Node, len(l.Nodes))}
	for i, n := range l.Nodes {
		switch x := n.(type) {
		case *parse.IfNode:
			c := *x
			c.List, c.ElseList = shallowLists(x.List), shallowLists(x.ElseList)
			cp.Nodes[i] = &c
		case *parse.RangeNode:
			c := *x
			c.List, c.ElseList = shallowLists(x.List), shallowLists(x.ElseList)
			cp.Nodes[i] = &c
		case *parse.WithNode:
			c := *x
			c.List, c.ElseList = shallowLists(x.List), shallowLists(x.ElseList)
			cp.Nodes[i] = &c
		case *parse.ListNode:
			cp.Nodes[i] = shallowLists(x)
		default:
			cp.Nodes[i] = n
		}
	}
	return cp
}

// newMarkers returns the opening marker of a new skeleton and the helper
// that writes hole i's marker.
func newMarkers() (string, func(int) string) {
	var nonce [12]byte
	_, _ = rand.Read(nonce[:])
	open := holeOpen + hex.EncodeToString(nonce[:]) + ":"
	return open, func(i int) string { return open + strconv.Itoa(i) + holeClose }
}

// textSkeleton builds the skeleton of a text part from its trees, or nil.
func textSkeleton(trees []*parse.Tree, entry string) *skeleton {
	holes, ok := findHoles(trees)
	if !ok || len(holes) == 0 {
		return nil
	}
	open, marker := newMarkers()
	sk := texttemplate.New(entry).Option("missingkey=error").Funcs(funcs()).Funcs(texttemplate.FuncMap{holeFunc: marker})
	for _, tr := range replaceHoles(trees, holes) {
		if _, err := sk.AddParseTree(tr.Name, tr); err != nil {
			return nil
		}
	}
	s := newSkeleton(open)
	s.exec = func(w io.Writer, data map[string]any) error { return sk.ExecuteTemplate(w, entry, data) }
	for _, h := range holes {
		ht, err := texttemplate.New("hole").Option("missingkey=error").Funcs(funcs()).Parse(h.String())
		if err != nil {
			return nil
		}
		s.holes = append(s.holes, func(w io.Writer, data map[string]any) error { return ht.Execute(w, data) })
	}
	return s
}

// htmlSkeleton builds the skeleton of an HTML part from copies of its trees
// made before escaping (html/template escapes in place), or nil.
func htmlSkeleton(unescaped []*parse.Tree, entry string) *skeleton {
	holes, ok := findHoles(unescaped)
	if !ok || len(holes) == 0 {
		return nil
	}
	open, marker := newMarkers()
	sk := htmltemplate.New(entry).Option("missingkey=error").Funcs(funcs()).Funcs(htmltemplate.FuncMap{holeFunc: marker})
	for _, tr := range replaceHoles(unescaped, holes) {
		if _, err := sk.AddParseTree(tr.Name, tr); err != nil {
			return nil
		}
	}
	if err := sk.ExecuteTemplate(io.Discard, entry, nil); err != nil {
		if _, isEscapeErr := err.(*htmltemplate.Error); isEscapeErr {
			return nil
		}
	}
	// Each hole must sit in HTML text, where html/template escapes it with
	// its HTML escaper alone: a hole executed alone at the top of a
	// template gets exactly that escaper.
	for _, t := range sk.Templates() {
		if t.Tree == nil {
			continue
		}
		if !holesInText(t.Tree.Root) {
			return nil
		}
	}
	s := newSkeleton(open)
	s.exec = func(w io.Writer, data map[string]any) error { return sk.ExecuteTemplate(w, entry, data) }
	for _, h := range holes {
		ht, err := htmltemplate.New("hole").Option("missingkey=error").Funcs(funcs()).Parse(h.String())
		if err != nil {
			return nil
		}
		if err := ht.Execute(io.Discard, nil); err != nil {
			if _, isEscapeErr := err.(*htmltemplate.Error); isEscapeErr {
				return nil
			}
		}
		if !holeEscapedAsText(ht.Tree.Root) {
			return nil
		}
		s.holes = append(s.holes, func(w io.Writer, data map[string]any) error { return ht.Execute(w, data) })
	}
	return s
}

// htmlTextEscaper is the escaper html/template adds to an action in HTML text.
const htmlTextEscaper = "_html_template_htmlescaper"

// holesInText says whether every holeFunc action under l was escaped as
// HTML text: its pipeline is holeFunc N | htmlTextEscaper and nothing else.
func holesInText(l *parse.ListNode) bool {
	if l == nil {
		return true
	}
	for _, n := range l.Nodes {
		switch x := n.(type) {
		case *parse.ActionNode:
			cmds := x.Pipe.Cmds
			if len(cmds) == 0 || len(cmds[0].Args) == 0 {
				continue
			}
			if id, ok := cmds[0].Args[0].(*parse.IdentifierNode); !ok || id.Ident != holeFunc {
				continue
			}
			if len(cmds) != 2 || len(cmds[1].Args) != 1 {
				return false
			}
			if id, ok := cmds[1].Args[0].(*parse.IdentifierNode); !ok || id.Ident != htmlTextEscaper {
				return false
			}
		case *parse.IfNode:
			if !holesInText(x.List) || !holesInText(x.ElseList) {
				return false
			}
		case *parse.RangeNode:
			if !holesInText(x.List) || !holesInText(x.ElseList) {
				return false
			}
		case *parse.WithNode:
			if !holesInText(x.List) || !holesInText(x.ElseList) {
				return false
			}
		case *parse.ListNode:
			if !holesInText(x) {
				return false
			}
		}
	}
	return true
}

// holeEscapedAsText says whether a hole template (one action) was escaped
// with the HTML text escaper as its last command.
func holeEscapedAsText(l *parse.ListNode) bool {
	if l == nil || len(l.Nodes) != 1 {
		return false
	}
	a, ok := l.Nodes[0].(*parse.ActionNode)
	if !ok || len(a.Pipe.Cmds) < 2 {
		return false
	}
	last := a.Pipe.Cmds[len(a.Pipe.Cmds)-1]
	id, ok := last.Args[0].(*parse.IdentifierNode)
	return ok && len(last.Args) == 1 && id.Ident == htmlTextEscaper
}
