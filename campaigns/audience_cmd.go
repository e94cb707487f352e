package campaigns

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Sample is one beneficiary an audience matches, with why.
type Sample struct {
	RecipientID int64    `json:"recipient_id"`
	Ref         string   `json:"ref"` // beneficiary number
	Why         []string `json:"why"`
}

// Preview counts the audience and returns up to n matching beneficiaries
// (lowest ids first) with the criteria each one matched. It reads only
// beneficiary numbers and criteria, never names or contact details.
func Preview(ctx context.Context, db DBTX, a *Audience, n int) (count int64, sample []Sample, err error) {
	if count, err = CountAudience(ctx, db, a); err != nil {
		return 0, nil, err
	}
	c, err := a.Compile(1)
	if err != nil {
		return 0, nil, err
	}
	why := "ARRAY[]::text[]"
	if len(c.Explain) > 0 {
		why = "ARRAY[" + strings.Join(c.Explain, ", ") + "]"
	}
	args := append([]any{n}, c.Args...)
	rows, err := db.Query(ctx, `SELECT r.id, r.ref, `+why+` FROM recipients r WHERE `+c.Where+` ORDER BY r.id LIMIT $1`, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("audience sample: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s Sample
		var reasons []*string
		if err := rows.Scan(&s.RecipientID, &s.Ref, &reasons); err != nil {
			return 0, nil, err
		}
		for _, r := range reasons {
			if r != nil {
				s.Why = append(s.Why, *r)
			}
		}
		if len(s.Why) == 0 {
			s.Why = []string{"active beneficiary"}
		}
		sample = append(sample, s)
	}
	return count, sample, rows.Err()
}

// Describe says in words whom the audience targets.
func (a *Audience) Describe() string {
	c, err := a.Compile(0)
	if err != nil {
		return "invalid audience: " + err.Error()
	}
	prefix := "active beneficiaries"
	if a.IncludeInactive {
		prefix = "all beneficiaries"
	}
	if len(c.Criteria) == 0 {
		return prefix
	}
	return prefix + " who " + strings.Join(c.Criteria, "; and ")
}

// AudienceCommand is `courrier campaign audience [--sample N] FILE`: a dry
// run that prints how many beneficiaries the audience in FILE (JSON or
// YAML) matches and a sample of them, by beneficiary number, with the
// criteria each matched.
func AudienceCommand(ctx context.Context, db DBTX, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("campaign audience", flag.ContinueOnError)
	fs.SetOutput(w)
	n := fs.Int("sample", 10, "number of matching beneficiaries to show")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: courrier campaign audience [--sample N] FILE")
	}
	src, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	a, err := ParseAudience(src)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	count, sample, err := Preview(ctx, db, a, *n)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "audience: %s\n", a.Describe())
	fmt.Fprintf(w, "matches:  %d beneficiaries\n", count)
	if len(sample) > 0 {
		fmt.Fprintf(w, "sample (first %d by id):\n", len(sample))
		for _, s := range sample {
			fmt.Fprintf(w, "  %-14s %s\n", s.Ref, strings.Join(s.Why, "; "))
		}
	}
	return nil
}
