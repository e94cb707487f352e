package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/internal/pgtest"
	"github.com/courrier-dev/courrier/recipients"
	"github.com/courrier-dev/courrier/staff"
)

// chromiumPath is Debian's chromium, which .ci/run installs when missing.
const chromiumPath = "/usr/bin/chromium"

// TestConsoleInBrowser drives the console of a real `serve` (workers
// running, outbox channels) in headless Chromium: an agent logs in with
// TOTP, finds a beneficiary without accents and sees the SMS receipt in the
// timeline; an operator creates a campaign and cannot approve it; an
// approver approves it; the operator starts it and sees it reach 100 %; an
// auditor sees a failing rule and its list; a wrong role and a missing CSRF
// token are refused. Screenshots of every page go to the test's temp dir.
func TestConsoleInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is required at %s (apt-get install chromium; .ci/run does it): %v", chromiumPath, err)
	}
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	vars := map[string]string{"COURRIER_OUTBOX": t.TempDir()}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] },
		Pool: pgtest.New(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	pool := env.Pool
	rt, err := env.newRuntime(ctx, pool, env.Logger, runtimeOpts{noQuietHours: true, forceOutbox: true})
	require.NoError(t, err)
	defer rt.Close()
	app, err := env.newApp(ctx, pool, rt)
	require.NoError(t, err)
	require.NoError(t, app.client.Start(ctx))
	defer func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		_ = app.client.Stop(stopCtx)
	}()
	srv := httptest.NewServer(app.http) // 127.0.0.1: a secure context, Secure cookies are kept
	defer srv.Close()

	// Accounts, a beneficiary with an SMS delivered (Twilio receipt), three
	// campaign beneficiaries, and a complaint past its deadline.
	accts := map[string]*staff.Created{}
	for _, role := range []staff.Role{staff.RoleAgent, staff.RoleOperator, staff.RoleApprover, staff.RoleAuditor} {
		accts[string(role)], err = staff.Create(ctx, pool, staff.NewAccount{Login: string(role), DisplayName: "Test " + string(role), Role: role})
		require.NoError(t, err)
	}
	rid, _, err := recipients.Upsert(ctx, pool, &recipients.Recipient{Ref: "1234567", Civility: "Mme", GivenName: "Hélène",
		FamilyName: "Lefèvre", Phone: "+33612345678", PostalCode: "75011", City: "Paris", AddressLine1: "3 rue des Lilas",
		Active: true, ConsentSMS: true, ConsentEmail: true, ConsentLetter: true})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
		WITH n AS (INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, channel, delivered_at)
		           VALUES ($1, 'reminder_generic', 'reminder_generic', 'browser-1', 'delivered', 'sms', now()) RETURNING id),
		     d AS (INSERT INTO deliveries (notice_id, channel, provider, provider_message_id, state, attempt, sent_at, final_at)
		           SELECT id, 'sms', 'twilio', 'SM0123456789abcdef', 'delivered', 1, now(), now() FROM n RETURNING id, notice_id)
		INSERT INTO delivery_events (delivery_id, notice_id, event, provider_status)
		SELECT id, notice_id, 'sent', 'queued' FROM d UNION ALL SELECT id, notice_id, 'delivered', 'delivered' FROM d`, rid)
	require.NoError(t, err)
	for _, ref := range []string{"CAMP001", "CAMP002", "CAMP003"} {
		_, _, err = recipients.Upsert(ctx, pool, &recipients.Recipient{Ref: ref, GivenName: "Camp", FamilyName: ref,
			Email: strings.ToLower(ref) + "@example.fr", PostalCode: "69003", City: "Lyon", AddressLine1: "1 rue", Active: true,
			ConsentEmail: true, ConsentSMS: true, ConsentLetter: true})
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO requests (external_id, recipient_id, kind, received_at, ack_due_by, answer_due_by, state)
		VALUES ('REC-1', $1, 'complaint', now() - interval '1 day' * 20, now() - interval '1 day' * 15, now() - interval '1 day' * 5, 'acknowledged')`, rid)
	require.NoError(t, err)

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1000))...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	require.NoError(t, chromedp.Do(browser)) // starts the browser, on a context without timeout
	shots := t.TempDir()
	if dir := os.Getenv("COURRIER_SCREENSHOT_DIR"); dir != "" { // to look at them after the test
		shots = dir
	}
	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(browser, 30*time.Second) }
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, stop := step()
		defer stop()
		require.NoError(t, chromedp.Do(c, steps...))
	}
	get := func(a chromedp.Action[string]) string {
		t.Helper()
		c, stop := step()
		defer stop()
		v, err := chromedp.Run(c, a)
		require.NoError(t, err)
		return v
	}
	shot := func(name string) {
		t.Helper()
		c, stop := step()
		defer stop()
		png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name+".png"), png, 0o600))
	}
	mainText := func() string { t.Helper(); return get(chromedp.Text(chromedp.CSS("main"))) }
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	id := func(s string) chromedp.ID { return chromedp.ID(s) }
	logins := map[string]int{}
	login := func(role string) {
		t.Helper()
		a := accts[role]
		// A code is accepted once: a second login uses the next one (the
		// server accepts one step of clock drift).
		code, err := staff.Code(a.TOTPSecret, time.Now().Add(time.Duration(logins[role])*30*time.Second))
		logins[role]++
		require.NoError(t, err)
		do(chromedp.Navigate(srv.URL+"/console/login"), chromedp.WaitVisible(id("login")))
		shot("login-" + role)
		do(chromedp.SendKeys(id("login"), a.Account.Login), chromedp.SendKeys(id("password"), a.Password),
			chromedp.SendKeys(id("code"), code), chromedp.Click(css(`main button[type="submit"]`)),
			chromedp.WaitVisible(css(`form.who`)))
	}
	logout := func() {
		t.Helper()
		do(chromedp.Click(css(`form.who button`)), chromedp.WaitVisible(id("login")))
	}

	// Agent: accent-insensitive search, timeline with the SMS receipt.
	login("agent")
	do(chromedp.Navigate(srv.URL+"/console/recipients"), chromedp.SendKeys(id("q"), "helene lefev"),
		chromedp.Submit(id("q")), chromedp.WaitVisible(css(`a[href="/console/recipients/1234567"]`)))
	shot("search")
	do(chromedp.Click(css(`a[href="/console/recipients/1234567"]`)), chromedp.WaitVisible(id("chronologie")),
		chromedp.Click(css(`section.notice details summary`)))
	text := mainText()
	require.Contains(t, text, "SM0123456789abcdef")
	require.Contains(t, text, "accusé du prestataire : delivered")
	shot("recipient")
	do(chromedp.Navigate(srv.URL + "/console/campaigns"))
	require.Contains(t, mainText(), "Accès refusé", "an agent does not see campaigns")
	// A form posted without its CSRF token is refused.
	do(chromedp.Navigate(srv.URL+"/console/recipients/1234567/send"), chromedp.WaitVisible(id("reason")))
	blank := get(chromedp.Evaluate[string](`document.querySelector('main input[name=csrf]').value = ''`))
	require.Empty(t, blank)
	do(chromedp.SendKeys(id("reason"), "appel du jour"), chromedp.Click(css(`button[value="preview"]`)),
		chromedp.WaitVisible(css("p.error")))
	require.Contains(t, mainText(), "Jeton de sécurité (CSRF)")
	shot("csrf-refused")
	do(chromedp.Navigate(srv.URL + "/console/recipients"))
	logout()

	// Operator creates a general mailing: it needs approval, not theirs.
	login("operator")
	do(chromedp.Navigate(srv.URL+"/console/campaigns/new"), chromedp.WaitVisible(id("name")),
		chromedp.SendKeys(id("name"), "Information printemps"), chromedp.SendKeys(id("ref_prefix"), "CAMP"),
		chromedp.SendKeys(id("f_period"), "printemps 2027"),
		chromedp.Click(css(`form[enctype] button[type="submit"]`)), chromedp.WaitVisible(css("p.flash")))
	location := get(chromedp.Location())
	require.Contains(t, mainText(), "doit être approuvée")
	campaignURL := regexp.MustCompile(`^.*/console/campaigns/\d+`).FindString(location)
	require.NotEmpty(t, campaignURL, location)
	c, stop := step()
	approveButtons, err := chromedp.Run(c, chromedp.Evaluate[int](`document.querySelectorAll('form[action$="/approve"]').length`))
	stop()
	require.NoError(t, err)
	require.Zero(t, approveButtons, "the operator cannot approve")
	shot("campaign-created")
	logout()

	login("approver")
	do(chromedp.Navigate(campaignURL), chromedp.Click(css(`form[action$="/approve"] button`)),
		chromedp.WaitVisible(css("p.flash")))
	require.Contains(t, mainText(), "Campagne approuvée")
	shot("campaign-approved")
	logout()

	// The operator starts it; the page refreshes itself until 100 %.
	login("operator")
	do(chromedp.Navigate(campaignURL), chromedp.Click(css(`form[action$="/start"] button`)),
		chromedp.WaitVisible(css("p.flash")))
	require.Eventually(t, func() bool {
		pct := get(chromedp.Text(id("campaign-percent")))
		return strings.HasPrefix(pct, "100,0")
	}, 60*time.Second, 500*time.Millisecond, "campaign progress reaches 100 %")
	do(chromedp.Navigate(campaignURL), chromedp.WaitVisible(css("svg")))
	require.Contains(t, mainText(), "terminée")
	shot("campaign-done")
	do(chromedp.Navigate(srv.URL + "/console/campaigns"))
	shot("campaigns")
	logout()

	// Auditor: the complaints rule fails, and its list names the beneficiary.
	// Reports read sealed facts: seal now rather than wait for serve's
	// minute, as an auditor looking after the next seal would.
	require.NoError(t, sealNow(ctx, env, pool))
	login("auditor")
	do(chromedp.Navigate(srv.URL+"/console/compliance"), chromedp.WaitVisible(id("rule-complaints-15d")))
	rule := get(chromedp.Text(id("rule-complaints-15d")))
	require.Contains(t, rule, "non conforme")
	shot("compliance")
	do(chromedp.Click(css(`#rule-complaints-15d a[href*="list=overdue"]`)),
		chromedp.WaitVisible(css(`a[href="/console/recipients/1234567"]`)))
	require.Contains(t, mainText(), "REC-1")
	shot("compliance-list")
	do(chromedp.Navigate(srv.URL + "/console/requests"))
	require.Contains(t, mainText(), "délai dépassé")
	shot("requests")
	do(chromedp.Navigate(srv.URL + "/console/templates/reminder_generic"))
	shot("template")
	t.Logf("screenshots in %s", shots)
}
