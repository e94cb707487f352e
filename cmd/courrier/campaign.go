package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/jobs"
)

const campaignUsage = `usage: courrier campaign COMMAND [flags]
  create FILE [--job-size N]      create a draft campaign from a YAML/JSON file
  approve ID                      approve a campaign (four-eyes: not its creator)
  start ID [--job-size N]         start an approved campaign
  run FILE|ID [--wait] [--job-size N]
                                  create (from FILE) and start, optionally wait with progress
  pause ID | resume ID            pause or resume a campaign
  cancel ID [--reason]            cancel: pending notices are cancelled, sent ones untouched
  retry ID                        re-send notices that failed for transient causes
  status ID [--json]              counts computed from the campaign's notices, and its ledger
  list                            the latest campaigns
  audience FILE [--sample N]      dry run of an audience: count and sample
Every command that changes a campaign needs --operator NAME (or COURRIER_OPERATOR).
--job-size (notices per deliver_batch job, 1 to 10000) is stored with the campaign.`

func runCampaign(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || wantsHelp(args[:1]) {
		fmt.Fprintln(env.Stdout, campaignUsage)
		return nil
	}
	return withDBSealed(ctx, env, args, func(pool *pgxpool.Pool) error {
		if pool == nil {
			fmt.Fprintln(env.Stdout, campaignUsage)
			return nil
		}
		client, err := jobs.NewInsertClient(pool, env.logger())
		if err != nil {
			return err
		}
		return campaignCommand(ctx, env, pool, client, args)
	})
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("approve 12 --operator bob").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func operatorFlag(env *Env, fs *flag.FlagSet) *string {
	return fs.String("operator", env.Getenv("COURRIER_OPERATOR"), "the operator's name, recorded in the campaign's ledger (env COURRIER_OPERATOR)")
}

func needOperator(op string) error {
	if strings.TrimSpace(op) == "" {
		return fmt.Errorf("--operator NAME is required (or set COURRIER_OPERATOR)")
	}
	return nil
}

func oneID(pos []string, cmd string) (int64, error) {
	if len(pos) != 1 {
		return 0, fmt.Errorf("usage: courrier campaign %s ID", cmd)
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("campaign %s: %q is not a campaign id", cmd, pos[0])
	}
	return id, nil
}

func campaignCommand(ctx context.Context, env *Env, db *pgxpool.Pool, client *river.Client[pgx.Tx], args []string) error {
	w := env.Stdout
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("campaign "+cmd, flag.ContinueOnError)
	fs.SetOutput(w)
	op := operatorFlag(env, fs)
	reason := fs.String("reason", "", "why (cancel)")
	asJSON := fs.Bool("json", false, "print JSON (status, list)")
	wait := fs.Bool("wait", false, "wait for the campaign to finish, with progress (run)")
	jobSize := fs.Int("job-size", 0, "notices per deliver_batch job, stored with the campaign (default: the server's, 250)")
	sample := fs.Int("sample", 10, "audience: number of matching beneficiaries to show")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	var cfg *campaigns.Config
	switch cmd {
	case "audience":
		if len(pos) != 1 {
			return fmt.Errorf("usage: courrier campaign audience [--sample N] FILE")
		}
		return printAudience(ctx, db, w, pos[0], *sample)
	case "create", "run":
		if err := needOperator(*op); err != nil {
			return err
		}
		if len(pos) != 1 {
			return fmt.Errorf("usage: courrier campaign %s FILE", cmd)
		}
		var c *campaigns.Campaign
		if id, err := strconv.ParseInt(pos[0], 10, 64); err == nil && cmd == "run" {
			if err := jobs.SetCampaignJobSize(ctx, db, id, *jobSize); err != nil {
				return err
			}
			if c, err = campaigns.Get(ctx, db, id); err != nil {
				return err
			}
		} else {
			src, err := os.ReadFile(pos[0])
			if err != nil {
				return err
			}
			if c, err = jobs.CreateCampaignFromFile(ctx, db, src, *op, *jobSize, cfg); err != nil {
				return fmt.Errorf("%s: %w", pos[0], err)
			}
			fmt.Fprintf(w, "campaign %d created by %s: %s (%s)\n", c.ID, c.CreatedBy, c.Name, c.State)
			if c.NeedsApproval {
				fmt.Fprintf(w, "campaign %d needs approval by an operator other than %s: courrier campaign approve %d --operator NAME\n", c.ID, c.CreatedBy, c.ID)
			}
		}
		if cmd == "create" {
			return nil
		}
		if c.State == campaigns.StateDraft || c.State == campaigns.StateApproved {
			if c, err = jobs.StartCampaign(ctx, db, client, c.ID, *op, cfg); err != nil {
				return err
			}
			fmt.Fprintf(w, "campaign %d started by %s (%s, audience %d)\n", c.ID, *op, c.State, c.AudienceEstimate)
		}
		if *wait {
			return waitCampaign(ctx, db, w, c.ID)
		}
		return nil
	case "approve", "start", "pause", "resume", "cancel", "retry":
		if err := needOperator(*op); err != nil {
			return err
		}
		id, err := oneID(pos, cmd)
		if err != nil {
			return err
		}
		switch cmd {
		case "approve":
			var c *campaigns.Campaign
			if c, err = jobs.ApproveCampaign(ctx, db, id, *op); err == nil {
				fmt.Fprintf(w, "campaign %d approved by %s (created by %s)\n", id, c.ApprovedBy, c.CreatedBy)
			}
		case "start":
			if err = jobs.SetCampaignJobSize(ctx, db, id, *jobSize); err != nil {
				return err
			}
			var c *campaigns.Campaign
			if c, err = jobs.StartCampaign(ctx, db, client, id, *op, cfg); err == nil {
				fmt.Fprintf(w, "campaign %d %s (audience %d)\n", id, c.State, c.AudienceEstimate)
			}
		case "pause":
			if _, err = jobs.PauseCampaign(ctx, db, client, id, *op); err == nil {
				fmt.Fprintf(w, "campaign %d paused by %s\n", id, *op)
			}
		case "resume":
			var c *campaigns.Campaign
			if c, err = jobs.ResumeCampaign(ctx, db, client, id, *op, *jobSize); err == nil {
				fmt.Fprintf(w, "campaign %d resumed by %s (%s)\n", id, *op, c.State)
			}
		case "cancel":
			var n int64
			if n, err = jobs.CancelCampaign(ctx, db, client, id, *op, *reason); err == nil {
				fmt.Fprintf(w, "campaign %d cancelled by %s: %d pending notices cancelled\n", id, *op, n)
			}
		case "retry":
			var n int
			if n, err = jobs.RetryCampaign(ctx, db, client, id, *op, *jobSize); err == nil {
				fmt.Fprintf(w, "campaign %d: %d notices failed for a transient cause re-enqueued\n", id, n)
			}
		}
		return err
	case "status":
		id, err := oneID(pos, cmd)
		if err != nil {
			return err
		}
		st, err := jobs.GetCampaignStatus(ctx, db, id)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(w).Encode(st)
		}
		printStatus(w, st)
		return nil
	case "list":
		list, err := campaigns.List(ctx, db, 50)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(w).Encode(list)
		}
		fmt.Fprintf(w, "%-6s %-18s %-10s %-28s %s\n", "ID", "KIND", "STATE", "TEMPLATE", "NAME")
		for _, c := range list {
			fmt.Fprintf(w, "%-6d %-18s %-10s %-28s %s\n", c.ID, c.Kind, c.State, c.TemplateKey, c.Name)
		}
		return nil
	}
	return fmt.Errorf("unknown campaign command %q\n%s", cmd, campaignUsage)
}

func printAudience(ctx context.Context, db *pgxpool.Pool, w io.Writer, file string, n int) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	a, err := campaigns.ParseAudience(src)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	count, sample, err := campaigns.Preview(ctx, db, a, n)
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

func printStatus(w io.Writer, st *jobs.CampaignStatus) {
	c, counts := st.Campaign, st.Counts
	fmt.Fprintf(w, "campaign %d  %s  (%s, template %s)\n", c.ID, c.Name, c.Kind, c.TemplateKey)
	fmt.Fprintf(w, "state      %s\n", c.State)
	fmt.Fprintf(w, "audience   %s\n", c.Audience.Describe())
	if c.JobSize > 0 {
		fmt.Fprintf(w, "job size   %d notices per deliver_batch job\n", c.JobSize)
	}
	fmt.Fprintf(w, "targeted   %d (estimate at start %d)\n", counts.Targeted, counts.Estimate)
	fmt.Fprintf(w, "notices    %d created: %d pending, %d sending, %d sent, %d delivered, %d failed, %d no route, %d cancelled\n",
		counts.Created, counts.Pending, counts.Sending, counts.Sent, counts.Delivered, counts.Failed, counts.NoRoute, counts.Cancelled)
	if s := st.Stuck; !s.Zero() {
		fmt.Fprintf(w, "STUCK      %d jobs running and %d deliveries sending since %s, held by a process that stopped; "+
			"a running serve takes them over %s after they started\n",
			s.Jobs, s.Sending, s.Since.In(campaigns.Paris()).Format("2006-01-02 15:04:05"), jobs.RescueAfter())
	}
	for _, e := range st.Events {
		detail := ""
		if e.Detail != "" {
			detail = "  (" + e.Detail + ")"
		}
		fmt.Fprintf(w, "  %s  %-9s by %s%s\n", e.OccurredAt.In(campaigns.Paris()).Format("2006-01-02 15:04:05"), e.Event, e.Actor, detail)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// waitCampaign polls the campaign's status until it is completed or
// cancelled, drawing a progress bar on a terminal (a line per change
// otherwise).
func waitCampaign(ctx context.Context, db *pgxpool.Pool, w io.Writer, id int64) error {
	tty := isTerminal(w)
	last := ""
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		st, err := jobs.GetCampaignStatus(ctx, db, id)
		if err != nil {
			return err
		}
		line := progressLine(st.Campaign, st.Counts)
		switch {
		case tty:
			fmt.Fprintf(w, "\r%s", line)
		case line != last:
			fmt.Fprintln(w, line)
		}
		last = line
		if st.Campaign.Final() {
			if tty {
				fmt.Fprintln(w)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(w)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func progressLine(c *campaigns.Campaign, n campaigns.Counts) string {
	total := max(n.Estimate, n.Created, 1)
	done := n.Done() + n.Sent
	const width = 30
	filled := int(float64(width) * float64(done) / float64(total))
	filled = min(max(filled, 0), width)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	return fmt.Sprintf("[%s] %5.1f%%  %s  created %d/%d  delivered %d  sent %d  failed %d  no route %d  cancelled %d",
		bar, 100*float64(done)/float64(total), c.State, n.Created, total, n.Delivered, n.Sent, n.Failed, n.NoRoute, n.Cancelled)
}
