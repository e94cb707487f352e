package recipients

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
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

// SearchDB is what Search needs: a pool or a transaction (it runs in a
// transaction of its own, or a savepoint).
type SearchDB interface {
	DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
}

// searchWindow is how many of the newest beneficiaries (below the cursor)
// a search filters first, walking the ids backwards.
const searchWindow = 5000

// Search finds beneficiaries whose number, names, email, phone or postal
// code contain every term of q, ignoring case and accents ("helene" finds
// Hélène), newest first, one page at a time. A query shorter than two
// characters is refused: it would match everyone.
//
// The plan is chosen here rather than by PostgreSQL, whose estimate of a
// LIKE '%…%' match count is often wrong by a factor of 100 in either
// direction, and either wrong choice costs close to a second at 1,000,000
// beneficiaries (docs/console-search-plans.md). First the newest
// searchWindow beneficiaries are filtered on the stored normalised text: a
// common name fills the page there. Only if it does not (a rare name: fewer
// than a page of matches in the window, so few in the table) is the
// trigram index used, for the ids below the window.
func Search(ctx context.Context, db SearchDB, q string, opts *SearchOpts) (*SearchResult, error) {
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
	// One LIKE per term, ANDed: each is served by the trigram index (a
	// bitmap AND), which "LIKE ALL (array)" would not be. $1 is the upper
	// bound of the ids, $2 the limit.
	var where []string
	args := []any{o.After, o.Limit + 1}
	for _, t := range terms {
		args = append(args, "%"+likeEscape(t)+"%")
		where = append(where, fmt.Sprintf("%s LIKE courrier_fold($%d)", SearchExpr, len(args)))
	}
	cond := strings.Join(where, " AND ")
	res := &SearchResult{}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// Exec mode: unnamed statements, planned with the actual values.
		query := func(sql string, a []any) ([]*Recipient, error) {
			rows, err := tx.Query(ctx, sql, append([]any{pgx.QueryExecModeExec}, a...)...)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Recipient, error) { return Scan(row) })
		}
		// The window: the newest searchWindow ids below the cursor. A
		// subquery with its own LIMIT is never merged with the outer filter,
		// so it is always read through the primary key, backwards.
		var err error
		res.Recipients, err = query(`SELECT `+Columns+` FROM (
			SELECT * FROM recipients WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT `+fmt.Sprint(searchWindow)+`
		) w WHERE `+cond+` ORDER BY id DESC LIMIT $2`, args)
		if err != nil || len(res.Recipients) > o.Limit {
			return err
		}
		var bound int64
		err = tx.QueryRow(ctx, `SELECT id FROM recipients WHERE ($1 = 0 OR id < $1) ORDER BY id DESC OFFSET $2 LIMIT 1`,
			pgx.QueryExecModeExec, o.After, searchWindow-1).Scan(&bound)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // the window held every beneficiary below the cursor
		}
		if err != nil {
			return err
		}
		// Below the window, with the trigram index only.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off`); err != nil {
			return err
		}
		more := append([]any{bound, o.Limit + 1 - len(res.Recipients)}, args[2:]...)
		rest, err := query(`SELECT `+Columns+` FROM recipients WHERE id < $1 AND `+cond+` ORDER BY id DESC LIMIT $2`, more)
		if err != nil {
			return err
		}
		res.Recipients = append(res.Recipients, rest...)
		// The settings end with the transaction; inside a caller's
		// transaction (a savepoint) they must be put back.
		_, err = tx.Exec(ctx, `SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("search beneficiaries: %w", err)
	}
	if len(res.Recipients) > o.Limit {
		res.Recipients = res.Recipients[:o.Limit]
		res.Next = res.Recipients[o.Limit-1].ID
	}
	return res, nil
}
