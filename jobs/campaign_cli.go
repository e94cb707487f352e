package jobs

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
	"go.yaml.in/yaml/v3"

	"github.com/courrier-dev/courrier/campaigns"
)

// CampaignFile is the YAML (or JSON) of `courrier campaign create FILE`.
type CampaignFile struct {
	Name     string             `yaml:"name"`
	Kind     campaigns.Kind     `yaml:"kind"`     // general_mailing or reminder
	Template string             `yaml:"template"` // default per kind
	Data     map[string]any     `yaml:"data"`
	Audience campaigns.Audience `yaml:"audience"`
	StartAt  string             `yaml:"start_at"` // RFC 3339 or "2027-03-16 09:00" (Europe/Paris); empty: when started
	Pace     campaigns.Pace     `yaml:"pace"`
	Reason   string             `yaml:"reason"`
	Test     bool               `yaml:"test"`
}

const campaignUsage = `usage: courrier campaign COMMAND [flags]
  create FILE            create a draft campaign from a YAML/JSON file
  approve ID             approve a campaign (four-eyes: not its creator)
  start ID               start an approved campaign
  run FILE|ID [--wait]   create (from FILE) and start, optionally wait with progress
  pause ID | resume ID   pause or resume a campaign
  cancel ID [--reason]   cancel: pending notices are cancelled, sent ones untouched
  retry ID               re-send notices that failed for transient causes
  status ID [--json]     counts computed from the campaign's notices, and its ledger
  list                   the latest campaigns
  audience FILE          dry run of an audience: count and sample
Every command that changes a campaign needs --operator NAME (or COURRIER_OPERATOR).`

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

func operatorFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("COURRIER_OPERATOR")
	return fs.String("operator", def, "the operator's name, recorded in the campaign's ledger (env COURRIER_OPERATOR)")
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

// CampaignCommand is `courrier campaign …`: create, approve, start, run,
// pause, resume, cancel, retry, status, list and audience. client inserts
// jobs (an insert-only client is enough: `serve` processes work them).
func CampaignCommand(ctx context.Context, db *pgxpool.Pool, client *river.Client[pgx.Tx], w io.Writer, args []string) error {
	return campaignCommand(ctx, db, client, w, args, nil)
}

func campaignCommand(ctx context.Context, db *pgxpool.Pool, client *river.Client[pgx.Tx], w io.Writer, args []string, cfg *campaigns.Config) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(w, campaignUsage)
		return nil
	}
	cmd, args := args[0], args[1:]
	if cmd == "audience" {
		return campaigns.AudienceCommand(ctx, db, w, args)
	}
	fs := flag.NewFlagSet("campaign "+cmd, flag.ContinueOnError)
	fs.SetOutput(w)
	op := operatorFlag(fs)
	reason := fs.String("reason", "", "why (cancel)")
	asJSON := fs.Bool("json", false, "print JSON (status, list)")
	wait := fs.Bool("wait", false, "wait for the campaign to finish, with progress (run)")
	jobSize := fs.Int("job-size", 0, "notices per deliver_batch job (default 250)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch cmd {
	case "create", "run":
		if err := needOperator(*op); err != nil {
			return err
		}
		if len(pos) != 1 {
			return fmt.Errorf("usage: courrier campaign %s FILE", cmd)
		}
		var c *campaigns.Campaign
		if id, err := strconv.ParseInt(pos[0], 10, 64); err == nil && cmd == "run" {
			if c, err = campaigns.Get(ctx, db, id); err != nil {
				return err
			}
		} else {
			if c, err = createFromFile(ctx, db, pos[0], *op, cfg); err != nil {
				return err
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
			if c, err = StartCampaign(ctx, db, client, c.ID, *op, cfg); err != nil {
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
			err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
				c, err = campaigns.Approve(ctx, tx, id, *op)
				return err
			})
			if err == nil {
				fmt.Fprintf(w, "campaign %d approved by %s (created by %s)\n", id, c.ApprovedBy, c.CreatedBy)
			}
		case "start":
			var c *campaigns.Campaign
			if c, err = StartCampaign(ctx, db, client, id, *op, cfg); err == nil {
				fmt.Fprintf(w, "campaign %d %s (audience %d)\n", id, c.State, c.AudienceEstimate)
			}
		case "pause":
			if _, err = PauseCampaign(ctx, db, client, id, *op); err == nil {
				fmt.Fprintf(w, "campaign %d paused by %s\n", id, *op)
			}
		case "resume":
			var c *campaigns.Campaign
			if c, err = ResumeCampaign(ctx, db, client, id, *op, *jobSize); err == nil {
				fmt.Fprintf(w, "campaign %d resumed by %s (%s)\n", id, *op, c.State)
			}
		case "cancel":
			var n int64
			if n, err = CancelCampaign(ctx, db, client, id, *op, *reason); err == nil {
				fmt.Fprintf(w, "campaign %d cancelled by %s: %d pending notices cancelled\n", id, *op, n)
			}
		case "retry":
			var n int
			if n, err = RetryCampaign(ctx, db, client, id, *op, *jobSize); err == nil {
				fmt.Fprintf(w, "campaign %d: %d notices failed for a transient cause re-enqueued\n", id, n)
			}
		}
		return err
	case "status":
		id, err := oneID(pos, cmd)
		if err != nil {
			return err
		}
		return printStatus(ctx, db, w, id, *asJSON)
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

func createFromFile(ctx context.Context, db *pgxpool.Pool, path, operator string, cfg *campaigns.Config) (*campaigns.Campaign, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f CampaignFile
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Kind != campaigns.GeneralMailing && f.Kind != campaigns.Reminder {
		return nil, fmt.Errorf("%s: kind: %q must be general_mailing or reminder", path, f.Kind)
	}
	n := campaigns.New{Name: f.Name, Kind: f.Kind, TemplateKey: f.Template, Data: f.Data, Audience: f.Audience,
		Pace: f.Pace, Reason: f.Reason, Test: f.Test, CreatedBy: operator}
	if f.StartAt != "" {
		t, err := time.Parse(time.RFC3339, f.StartAt)
		if err != nil {
			if t, err = time.ParseInLocation("2006-01-02 15:04", f.StartAt, campaigns.Paris()); err != nil {
				return nil, fmt.Errorf("%s: start_at: %q is not a time (RFC 3339 or YYYY-MM-DD HH:MM)", path, f.StartAt)
			}
		}
		n.StartAt = &t
	}
	var c *campaigns.Campaign
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		c, _, err = campaigns.Create(ctx, tx, n, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func printStatus(ctx context.Context, db *pgxpool.Pool, w io.Writer, id int64, asJSON bool) error {
	if _, err := campaigns.CompleteIfDone(ctx, db, id); err != nil {
		return err
	}
	c, err := campaigns.Get(ctx, db, id)
	if err != nil {
		return err
	}
	counts, err := campaigns.GetCounts(ctx, db, id)
	if err != nil {
		return err
	}
	events, err := campaigns.Events(ctx, db, id)
	if err != nil {
		return err
	}
	stuck, err := StuckWork(ctx, db, id, 0, time.Now())
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(w).Encode(map[string]any{"campaign": c, "counts": counts, "stuck": stuck, "events": events})
	}
	fmt.Fprintf(w, "campaign %d  %s  (%s, template %s)\n", c.ID, c.Name, c.Kind, c.TemplateKey)
	fmt.Fprintf(w, "state      %s\n", c.State)
	fmt.Fprintf(w, "audience   %s\n", c.Audience.Describe())
	fmt.Fprintf(w, "targeted   %d (estimate at start %d)\n", counts.Targeted, counts.Estimate)
	fmt.Fprintf(w, "notices    %d created: %d pending, %d sending, %d sent, %d delivered, %d failed, %d no route, %d cancelled\n",
		counts.Created, counts.Pending, counts.Sending, counts.Sent, counts.Delivered, counts.Failed, counts.NoRoute, counts.Cancelled)
	if !stuck.Zero() {
		fmt.Fprintf(w, "STUCK      %d jobs running and %d deliveries sending since %s, held by a process that stopped; "+
			"a running serve takes them over %s after they started\n",
			stuck.Jobs, stuck.Sending, stuck.Since.In(campaigns.Paris()).Format("2006-01-02 15:04:05"), RescueAfter())
	}
	for _, e := range events {
		detail := ""
		if e.Detail != "" {
			detail = "  (" + e.Detail + ")"
		}
		fmt.Fprintf(w, "  %s  %-9s by %s%s\n", e.OccurredAt.In(campaigns.Paris()).Format("2006-01-02 15:04:05"), e.Event, e.Actor, detail)
	}
	return nil
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

// waitCampaign polls the campaign's counts until it is completed or
// cancelled, drawing a progress bar on a terminal (a line per change
// otherwise).
func waitCampaign(ctx context.Context, db *pgxpool.Pool, w io.Writer, id int64) error {
	tty := isTerminal(w)
	last := ""
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if _, err := campaigns.CompleteIfDone(ctx, db, id); err != nil {
			return err
		}
		c, err := campaigns.Get(ctx, db, id)
		if err != nil {
			return err
		}
		counts, err := campaigns.GetCounts(ctx, db, id)
		if err != nil {
			return err
		}
		line := progressLine(c, counts)
		switch {
		case tty:
			fmt.Fprintf(w, "\r%s", line)
		case line != last:
			fmt.Fprintln(w, line)
		}
		last = line
		if c.Final() {
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

// RemindCommand is `courrier remind --template KIND (--recipient REF |
// --audience FILE) [--data FILE.json] --reason TEXT --operator NAME`: a
// staff reminder to one beneficiary (a notice at once) or to an audience
// (a reminder campaign, which above the approval threshold waits for
// another operator's approval).
func RemindCommand(ctx context.Context, db *pgxpool.Pool, client *river.Client[pgx.Tx], w io.Writer, args []string) error {
	fs := flag.NewFlagSet("remind", flag.ContinueOnError)
	fs.SetOutput(w)
	op := operatorFlag(fs)
	tmpl := fs.String("template", "", "reminder kind: reminder_income_declaration, reminder_missing_document, reminder_generic")
	ref := fs.String("recipient", "", "beneficiary number")
	audFile := fs.String("audience", "", "audience file (YAML/JSON)")
	dataFile := fs.String("data", "", "template fields (JSON file)")
	reason := fs.String("reason", "", "why the reminder is sent (recorded)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if err := needOperator(*op); err != nil {
		return err
	}
	r := Reminder{Template: *tmpl, RecipientRef: *ref, Reason: *reason, Operator: *op}
	if *reason == "" {
		r.Reason = "staff reminder"
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
	res, err := SendReminder(ctx, db, client, r, nil)
	if err != nil {
		return err
	}
	switch {
	case res.NoticeID != 0 && res.Created:
		fmt.Fprintf(w, "reminder notice %d enqueued for beneficiary %s\n", res.NoticeID, r.RecipientRef)
	case res.NoticeID != 0:
		fmt.Fprintf(w, "reminder notice %d already exists for beneficiary %s (same reminder today)\n", res.NoticeID, r.RecipientRef)
	case res.NeedsApproval:
		fmt.Fprintf(w, "reminder campaign %d created: its audience is above the approval threshold; another operator must run: courrier campaign approve %d --operator NAME, then courrier campaign start %d\n",
			res.Campaign.ID, res.Campaign.ID, res.Campaign.ID)
	default:
		fmt.Fprintf(w, "reminder campaign %d started (audience %d)\n", res.Campaign.ID, res.Campaign.AudienceEstimate)
	}
	return nil
}
