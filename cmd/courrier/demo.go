package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/channels/letters"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/notices"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/requests"
	"github.com/courrier-dev/courrier/templates"
)

func runDemo(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("demo", "Runs courrier end to end on the embedded PostgreSQL (or DATABASE_URL) with every\n"+
		"channel going to the outbox: loads 50 synthetic beneficiaries, creates rights notices,\n"+
		"a general mailing and two request acknowledgements, delivers them all and prints a\n"+
		"summary. Running it again creates no duplicate notices.")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up waiting for deliveries after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := env.logger()
	pool, closeDB, err := env.openDB(ctx, true)
	if err != nil {
		return err
	}
	defer closeDB()
	rt, err := env.newRuntime(ctx, pool, logger, runtimeOpts{forceOutbox: true, noQuietHours: true})
	if err != nil {
		return err
	}
	defer rt.Close()
	sum, err := demo(ctx, pool, rt.deps, logger, *timeout)
	if err != nil {
		return err
	}
	sum.print(env.Stdout, rt.outbox.Dir)
	return demoProof(ctx, env, pool)
}

// demoSummary is what the demo reports.
type demoSummary struct {
	Beneficiaries int
	Created       int // notices created by this run (0 on a re-run)
	Rows          []demoRow
	Pending       int
	// Print batches handed by the demo's cut-off (letters_setup.go).
	Batches  []letters.Batch
	PrintDir string
	batched  bool
	Cafs     string // beneficiaries per Caf
}

type demoRow struct {
	Kind, Channel, State string
	Count                int
}

// demo seeds beneficiaries and notices, works them to completion and
// returns the summary of every demo notice.
func demo(ctx context.Context, pool *pgxpool.Pool, deps *jobs.Deps, logger *slog.Logger, timeout time.Duration) (*demoSummary, error) {
	campaignCfg := &campaigns.Config{Templates: deps.Templates}
	client, err := jobs.NewClient(pool, deps, jobs.ClientConfig{Logger: jobs.QuietLogger(logger, slog.LevelWarn), Extra: func(w *river.Workers) error {
		return jobs.AddCampaignWorkers(w, pool, &jobs.CampaignDeps{Config: campaignCfg, Calendar: &campaigns.Calendar{}, Logger: logger, Agencies: deps.Agencies})
	}})
	if err != nil {
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	}()

	sum := &demoSummary{}
	people := demoPeople()
	ids := make([]int64, len(people))
	for i, p := range people {
		if deps.Agencies != nil {
			p.Caf = deps.Agencies.ForPostalCode(p.PostalCode).Code
		}
		id, _, err := recipients.Upsert(ctx, pool, p)
		if err != nil {
			return nil, fmt.Errorf("demo beneficiary %s: %w", p.Ref, err)
		}
		ids[i] = id
	}
	sum.Beneficiaries = len(people)
	if deps.Agencies != nil {
		if sum.Cafs, err = demoCafs(ctx, pool, deps.Agencies, ids); err != nil {
			return nil, err
		}
	}
	var before int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE recipient_id = ANY($1)`, ids).Scan(&before); err != nil {
		return nil, err
	}

	// What upstream systems would post: rights opened for a third of the
	// beneficiaries, and two online requests, each acknowledged.
	now := time.Now()
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for i, p := range people {
			if i%3 != 0 {
				continue
			}
			amount := int64(14199 + 1000*i)
			if _, err := jobs.RecordRightsEvent(ctx, tx, client, jobs.RightsEvent{
				ExternalID: "demo-rights-" + p.Ref, RecipientID: ids[i], Event: "opened", Benefit: "AF",
				AmountCents: &amount, EffectiveOn: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0),
				CreatedBy: "demo",
			}); err != nil {
				return fmt.Errorf("demo rights event: %w", err)
			}
		}
		for i, ref := range []string{"DEMO-REQ-0001", "DEMO-REQ-0002"} {
			var seen bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM requests WHERE external_id = $1)`, ref).Scan(&seen); err != nil {
				return err
			}
			if seen { // received by an earlier run
				continue
			}
			if _, err := jobs.ReceiveRequest(ctx, tx, client, requests.New{
				ExternalID: ref, RecipientID: ids[i+1], Kind: "change_of_situation", Channel: "online",
				ReceivedAt: now.Add(-time.Duration(i+1) * time.Hour), CreatedBy: "demo",
			}, "", requests.Settings{}, false, now); err != nil {
				return fmt.Errorf("demo request: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// The general mailing, as operators run it: created by one, approved by
	// another (four-eyes), started; its fan-out makes the notices.
	c, created, err := campaigns.Create(ctx, pool, campaigns.New{
		Name: "Lettre d'information — démonstration", Kind: campaigns.GeneralMailing, NoticeKind: notices.GeneralInformation,
		Data: templates.SampleData(string(notices.GeneralInformation)), CalendarKey: "demo:general-mailing",
		Audience: campaigns.Audience{RefPrefix: "DEMO"}, CreatedBy: "demo-operator-1", ApprovedBy: "demo-operator-2", Reason: "demo",
	}, campaignCfg)
	if err != nil {
		return nil, fmt.Errorf("demo campaign: %w", err)
	}
	if created {
		if _, err := jobs.StartCampaign(ctx, pool, client, c.ID, "demo-operator-1", campaignCfg); err != nil {
			return nil, fmt.Errorf("demo campaign: %w", err)
		}
	}
	// Wait for the fan-out to have made its notices before counting.
	for {
		var done bool
		if err := pool.QueryRow(ctx, `SELECT fanout_done_at IS NOT NULL FROM campaigns WHERE id = $1`, c.ID).Scan(&done); err != nil {
			return nil, err
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	var after int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM notices WHERE recipient_id = ANY($1)`, ids).Scan(&after); err != nil {
		return nil, err
	}
	sum.Created = after - before

	deadline := time.Now().Add(timeout)
	for {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM notices
			WHERE recipient_id = ANY($1) AND state NOT IN ('delivered', 'failed', 'no_route', 'cancelled')`, ids).Scan(&sum.Pending); err != nil {
			return nil, err
		}
		if sum.Pending == 0 {
			break
		}
		if err := demoPrintBatch(ctx, pool, deps, client, ids, sum); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("demo: %d notices still undelivered after %s", sum.Pending, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}

	rows, err := pool.Query(ctx, `SELECT kind, CASE WHEN channel = '' THEN '-' ELSE channel END, state, count(*)
		FROM notices WHERE recipient_id = ANY($1) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r demoRow
		if err := rows.Scan(&r.Kind, &r.Channel, &r.State, &r.Count); err != nil {
			return nil, err
		}
		sum.Rows = append(sum.Rows, r)
	}
	return sum, rows.Err()
}

func (s *demoSummary) print(w io.Writer, outbox string) {
	fmt.Fprintf(w, "courrier demo: %d beneficiaries, %d notices created by this run\n\n", s.Beneficiaries, s.Created)
	printDemoCafs(w, s.Cafs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCHANNEL\tSTATE\tNOTICES")
	total := 0
	for _, r := range s.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", r.Kind, r.Channel, r.State, r.Count)
		total += r.Count
	}
	fmt.Fprintf(tw, "total\t\t\t%d\n", total)
	_ = tw.Flush()
	fmt.Fprintf(w, "\nMessages written to the outbox: %s/{email,sms,letter}\n", outbox)
	fmt.Fprintln(w, "(email as .eml files, SMS as .json, letters as PDF). Quiet hours are lifted in the demo.")
	s.printLetters(w)
}

// demoPeople returns 50 synthetic beneficiaries across metropolitan France
// and the overseas departments; some lack an email, a mobile, or both.
func demoPeople() []*recipients.Recipient {
	type place struct{ postal, city, mobile string }
	places := []place{
		{"75011", "Paris", "0612345"}, {"69003", "Lyon", "0623456"}, {"13001", "Marseille", "0734567"},
		{"33000", "Bordeaux", "0645678"}, {"59000", "Lille", "0656789"}, {"67000", "Strasbourg", "0667890"},
		{"97110", "Pointe-à-Pitre", "0690123"}, {"97200", "Fort-de-France", "0696123"}, {"97300", "Cayenne", "0694123"},
		{"97400", "Saint-Denis", "0692123"}, {"97600", "Mamoudzou", "0639123"},
	}
	women := []string{"Léa", "Inès", "Chloé", "Manon", "Zoé", "Jade", "Anaïs", "Maëlle", "Océane", "Élodie"}
	men := []string{"Hugo", "Nathan", "Yanis", "Lucas", "Mathis", "Noah", "Théo", "Rayan", "Jérôme", "Loïc"}
	family := []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
		"Simon", "Laurent", "Lefèbvre", "Michel", "Garcia", "Étienne", "Bertin", "Noël", "Payet", "Hoarau"}
	var out []*recipients.Recipient
	for i := range 50 {
		pl := places[i%len(places)]
		civ, given := "Mme", women[(i/2)%len(women)]
		if i%2 == 1 {
			civ, given = "M.", men[(i/2)%len(men)]
		}
		r := &recipients.Recipient{
			Ref: fmt.Sprintf("DEMO%06d", i+1), Civility: civ,
			GivenName: given, FamilyName: family[(i*7)%len(family)],
			AddressLine1: fmt.Sprintf("%d rue de la République", 1+i*3), PostalCode: pl.postal, City: pl.city,
			ConsentEmail: true, ConsentSMS: true, ConsentLetter: true, Active: true,
			Benefits: []string{"AF"},
		}
		if i%4 == 0 {
			r.Benefits = append(r.Benefits, "RSA")
		}
		noEmail := i%7 == 3 || i%13 == 6
		noPhone := i%9 == 4 || i%13 == 6
		if !noEmail {
			r.Email = fmt.Sprintf("demo.%d@exemple.fr", i+1)
		}
		if !noPhone {
			raw := fmt.Sprintf("%s%03d", pl.mobile, i)
			if i%11 == 5 {
				raw = fmt.Sprintf("01 45 67 %02d %02d", i, i) // a landline: not an SMS target
			}
			phone, mobile, err := recipients.NormalizePhone(raw, pl.postal)
			if err == nil {
				r.Phone = phone
				r.PhoneType = "mobile"
				if !mobile {
					r.PhoneType = "landline"
				}
			}
		}
		out = append(out, r)
	}
	return out
}
