package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/jobs"
)

const remindUsage = `usage: courrier remind --template KIND (--recipient REF | --audience FILE) [--data FILE.json]
                      [--at TIME] --reason TEXT --operator NAME
A staff reminder to one beneficiary (a notice) or to an audience (a reminder
campaign, which above the approval threshold waits for another operator's
approval). --at schedules it for later: RFC 3339, or "2027-03-16 09:00"
(Europe/Paris time).`

func runRemind(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("remind", flag.ContinueOnError)
	fs.SetOutput(env.Stdout)
	fs.Usage = func() { fmt.Fprintln(env.Stdout, remindUsage); fs.PrintDefaults() }
	op := operatorFlag(env, fs)
	tmpl := fs.String("template", "", "reminder kind: reminder_income_declaration, reminder_missing_document, reminder_generic")
	ref := fs.String("recipient", "", "beneficiary number")
	audFile := fs.String("audience", "", "audience file (YAML/JSON)")
	dataFile := fs.String("data", "", "template fields (JSON file)")
	reason := fs.String("reason", "", "why the reminder is sent (recorded)")
	at := fs.String("at", "", "send later: RFC 3339 or \"YYYY-MM-DD HH:MM\" (Europe/Paris)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if err := needOperator(*op); err != nil {
		return err
	}
	r := jobs.Reminder{Template: *tmpl, RecipientRef: *ref, Reason: *reason, Operator: *op}
	if *reason == "" {
		r.Reason = "staff reminder"
	}
	if *at != "" {
		t, err := parseLocalTime(*at)
		if err != nil {
			return fmt.Errorf("remind: --at: %w", err)
		}
		r.SendAt = &t
	}
	if *dataFile != "" {
		src, err := os.ReadFile(*dataFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(src, &r.Data); err != nil {
			return fmt.Errorf("%s: %w", *dataFile, err)
		}
	}
	if *audFile != "" {
		src, err := os.ReadFile(*audFile)
		if err != nil {
			return err
		}
		if r.Audience, err = campaigns.ParseAudience(src); err != nil {
			return fmt.Errorf("%s: %w", *audFile, err)
		}
	}
	return withDBSealed(ctx, env, nil, func(pool *pgxpool.Pool) error {
		client, err := jobs.NewInsertClient(pool, env.logger())
		if err != nil {
			return err
		}
		res, err := jobs.SendReminder(ctx, pool, client, r, nil)
		if err != nil {
			return err
		}
		w := env.Stdout
		when := ""
		if r.SendAt != nil {
			when = ", scheduled for " + r.SendAt.In(campaigns.Paris()).Format("2006-01-02 15:04 MST")
		}
		switch {
		case res.NoticeID != 0 && res.Created:
			fmt.Fprintf(w, "reminder notice %d enqueued for beneficiary %s%s\n", res.NoticeID, r.RecipientRef, when)
		case res.NoticeID != 0:
			fmt.Fprintf(w, "reminder notice %d already exists for beneficiary %s (same reminder that day)\n", res.NoticeID, r.RecipientRef)
		case res.NeedsApproval:
			fmt.Fprintf(w, "reminder campaign %d created: its audience is above the approval threshold; another operator must run: courrier campaign approve %d --operator NAME, then courrier campaign start %d\n",
				res.Campaign.ID, res.Campaign.ID, res.Campaign.ID)
		default:
			fmt.Fprintf(w, "reminder campaign %d started (audience %d%s)\n", res.Campaign.ID, res.Campaign.AudienceEstimate, when)
		}
		return nil
	})
}

// parseLocalTime reads RFC 3339, or "YYYY-MM-DD HH:MM" in Paris time.
func parseLocalTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02 15:04", s, campaigns.Paris())
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339 or YYYY-MM-DD HH:MM)", s)
	}
	return t, nil
}
