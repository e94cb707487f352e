package recipients

import (
	"context"
	"fmt"
	"strings"
	"unicode"
)

// SearchExpr is the indexed column a beneficiary search matches (see
// migration 0070): number, names, email, phone and postal code, lower-cased
// and without accents, kept up to date by PostgreSQL (a generated column).
const SearchExpr = `search_text`

// SearchOpts are the optional arguments of Search.
type SearchOpts struct {
	After int64 // keyset cursor: return beneficiaries with an id below this one (0: from the start)
	Limit int   // default 50, at most 200
}

// SearchResult is a page of beneficiaries found by Search.
type SearchResult struct {
	Recipients []*Recipient
	// Next is the cursor of the next page (SearchOpts.After), 0 on the last page.
	Next int64
}

// SearchTerms splits q into the folded terms Search matches, each of which
// must occur somewhere in a beneficiary's number, names, email, phone or
// postal code. A phone number typed with spaces, dots or dashes
// ("06 12 34 56 78") becomes one term. Terms are folded in Go only for the
// common case (lower case); accents are removed by PostgreSQL's unaccent, on
// both sides, so that the rules are the same as the index's. Terms are
// matched with trigrams: a term of one or two characters narrows the result
// but cannot use the index.
func SearchTerms(q string) []string {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil
	}
	if isPhoneLike(q) {
		var b strings.Builder
		for _, r := range q {
			if unicode.IsDigit(r) || r == '+' {
				b.WriteRune(r)
			}
		}
		return []string{b.String()}
	}
	var out []string
	for _, f := range strings.FieldsFunc(q, func(r rune) bool { return unicode.IsSpace(r) || r == ',' || r == ';' }) {
		out = append(out, strings.ToLower(f))
	}
	return out
}

// isPhoneLike reports whether q is digits (at least 4) with phone
// punctuation: the start of a phone number as people write it.
func isPhoneLike(q string) bool {
	digits := 0
	for i, r := range q {
		switch {
		case unicode.IsDigit(r):
			digits++
		case r == ' ' || r == '.' || r == '-' || (r == '+' && i == 0):
		default:
			return false
		}
	}
	return digits >= 4 && strings.ContainsAny(q, " .-")
}

// likeEscape escapes LIKE's wildcards in s.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Search finds beneficiaries whose number, names, email, phone or postal
// code contain every term of q, ignoring case and accents ("helene" finds
// Hélène), newest first, one page at a time. A query shorter than two
// characters is refused: it would match everyone.
func Search(ctx context.Context, db DBTX, q string, opts *SearchOpts) (*SearchResult, error) {
	var o SearchOpts
	if opts != nil {
		o = *opts
	}
	if o.Limit <= 0 {
		o.Limit = 50
	}
	if o.Limit > 200 {
		o.Limit = 200
	}
	terms := SearchTerms(q)
	if len([]rune(strings.Join(terms, ""))) < 2 {
		return nil, &FieldError{Field: "q", Reason: "type at least 2 characters"}
	}
	patterns := make([]string, len(terms))
	for i, t := range terms {
		patterns[i] = "%" + likeEscape(t) + "%"
	}
	// One LIKE per term, ANDed: each is served by the trigram index (a
	// bitmap AND), which "LIKE ALL (array)" would not be.
	where := make([]string, len(patterns))
	args := []any{o.After, o.Limit + 1}
	for i, p := range patterns {
		args = append(args, p)
		where[i] = fmt.Sprintf("%s LIKE courrier_fold($%d)", SearchExpr, len(args))
	}
	rows, err := db.Query(ctx, `SELECT `+Columns+` FROM recipients
		WHERE ($1 = 0 OR id < $1) AND `+strings.Join(where, " AND ")+`
		ORDER BY id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("search beneficiaries: %w", err)
	}
	defer rows.Close()
	res := &SearchResult{}
	for rows.Next() {
		r, err := Scan(rows)
		if err != nil {
			return nil, fmt.Errorf("search beneficiaries: %w", err)
		}
		res.Recipients = append(res.Recipients, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search beneficiaries: %w", err)
	}
	if len(res.Recipients) > o.Limit {
		res.Recipients = res.Recipients[:o.Limit]
		res.Next = res.Recipients[o.Limit-1].ID
	}
	return res, nil
}
