package campaigns

import (
	"context"
	"fmt"
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
