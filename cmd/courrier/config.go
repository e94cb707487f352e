package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/requests"
	"github.com/courrier-dev/courrier/templates"
)

// configCheck is one item of `courrier config check`. Checks run in order
// and share what earlier ones loaded (the templates, for the calendar). To
// check a new setting or file, append a configCheck to configChecks.
type configCheck struct {
	name string
	run  func(c *configState) error
}

// configState is what the checks share.
type configState struct {
	env       *Env
	templates *templates.Set
}

// configChecks is the list `courrier config check` runs. Other settings
// and files (an agencies file, a ledger key) add their own entry here.
var configChecks = []configCheck{
	{"numbers and durations", checkNumbers},
	{"logging", checkLogging},
	{"listen addresses", checkAddresses},
	{"DATABASE_URL", checkDatabaseURL},
	{"SMTP", checkSMTP},
	{"Twilio", checkTwilio},
	{"public URL and unsubscribe secret", checkPublicURL},
	{"request deadlines", func(c *configState) error {
		s, err := requests.SettingsFromEnv(c.env.Getenv)
		if err != nil {
			return err
		}
		return s.Validate()
	}},
	{"COURRIER_ROUTES", func(c *configState) error {
		_, err := channels.ParseRoutes(c.env.Getenv("COURRIER_ROUTES"))
		return err
	}},
	{"templates (COURRIER_TEMPLATES)", checkTemplates},
	{"campaign calendar (COURRIER_CALENDAR)", func(c *configState) error {
		if c.templates == nil {
			return errors.New("not checked: the templates did not load")
		}
		_, err := campaigns.LoadCalendar(c.env.Getenv("COURRIER_CALENDAR"), c.templates)
		return err
	}},
	{"agencies (COURRIER_AGENCIES)", func(c *configState) error {
		_, err := c.env.loadAgencies()
		return err
	}},
	{"OpenTelemetry (OTEL_*)", checkOTel},
}

func runConfig(ctx context.Context, env *Env, args []string) error {
	fs := env.newFlagSet("config check", "Validates every setting (environment variables) and file (routes, templates, campaign\n"+
		"calendar, agencies) that serve would use, with file:line errors, without starting anything: no\n"+
		"database, no listener, no provider call. Secrets are never printed. Exits 1 on any problem.")
	if len(args) == 0 || args[0] != "check" {
		if wantsHelp(args) {
			fs.Usage()
			return nil
		}
		fs.Usage()
		return errors.New("config: the subcommand is check (courrier config check)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	return checkConfig(env, env.Stdout)
}

// checkConfig runs every check and prints one line per check.
func checkConfig(env *Env, w io.Writer) error {
	c := &configState{env: env}
	problems := 0
	for _, chk := range configChecks {
		if err := chk.run(c); err != nil {
			problems++
			msg := strings.ReplaceAll(redact(env, err.Error()), "\n", "\n     ")
			fmt.Fprintf(w, "FAIL %s: %s\n", chk.name, msg)
			continue
		}
		fmt.Fprintf(w, "ok   %s\n", chk.name)
	}
	if problems > 0 {
		return fmt.Errorf("config check: %d problem(s)", problems)
	}
	fmt.Fprintln(w, "configuration ok")
	return nil
}

// secretVars hold secrets; their values (and any password in their URLs)
// never appear in the output.
var secretVars = []string{"DATABASE_URL", "SMTP_URL", "TWILIO_AUTH_TOKEN", "COURRIER_UNSUBSCRIBE_SECRET",
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}

func redact(env *Env, s string) string {
	for _, k := range secretVars {
		v := env.Getenv(k)
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok && p != "" {
				s = strings.ReplaceAll(s, p, "[redacted]")
			}
		}
		s = strings.ReplaceAll(s, v, "["+k+"]")
	}
	return s
}

func checkNumbers(c *configState) error {
	e := c.env
	var errs []error
	for _, k := range []string{"COURRIER_WORKERS", "COURRIER_APPROVAL_THRESHOLD", "COURRIER_FANOUT_BATCH",
		"COURRIER_FANOUT_JOB_SIZE", "SMTP_CONNECTIONS"} {
		if _, err := e.int(k, 0); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range []string{"COURRIER_FETCH_COOLDOWN", "COURRIER_STUCK_AFTER", "COURRIER_RETENTION", "COURRIER_METRICS_INTERVAL"} {
		if d, err := e.duration(k, 0); err != nil {
			errs = append(errs, err)
		} else if d < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", k))
		}
	}
	for _, k := range []string{"COURRIER_EMAIL_RATE", "COURRIER_SMS_RATE"} {
		if v := e.Getenv(k); v != "" {
			if r, err := strconv.ParseFloat(v, 64); err != nil || r < 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a rate in messages per second", k, v))
			}
		}
	}
	if v := e.Getenv("COURRIER_LETTER"); v != "" && v != "outbox" {
		errs = append(errs, fmt.Errorf("COURRIER_LETTER: %q is not supported (only \"outbox\")", v))
	}
	return errors.Join(errs...)
}

func checkLogging(c *configState) error {
	var errs []error
	switch strings.ToLower(c.env.Getenv("COURRIER_LOG_LEVEL")) {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("COURRIER_LOG_LEVEL: %q is not one of debug, info, warn, error", c.env.Getenv("COURRIER_LOG_LEVEL")))
	}
	switch c.env.Getenv("COURRIER_LOG_FORMAT") {
	case "", "json", "text":
	default:
		errs = append(errs, fmt.Errorf("COURRIER_LOG_FORMAT: %q is not json or text", c.env.Getenv("COURRIER_LOG_FORMAT")))
	}
	return errors.Join(errs...)
}

func checkAddresses(c *configState) error {
	var errs []error
	for _, k := range []string{"COURRIER_HTTP_ADDR", "COURRIER_METRICS_ADDR"} {
		v := c.env.Getenv(k)
		if v == "" {
			continue
		}
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", k, v))
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s: port %q is not a number from 0 to 65535", k, port))
		}
		if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
			errs = append(errs, fmt.Errorf("%s: host %q is neither an IP address nor a host name", k, host))
		}
	}
	if a, b := c.env.Getenv("COURRIER_HTTP_ADDR"), c.env.Getenv("COURRIER_METRICS_ADDR"); a != "" && a == b {
		errs = append(errs, errors.New("COURRIER_METRICS_ADDR: must differ from COURRIER_HTTP_ADDR (metrics are on the API port at /metrics already, for admin keys)"))
	}
	return errors.Join(errs...)
}

var hostname = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

func validHostname(h string) bool { return len(h) <= 253 && hostname.MatchString(h) }

func checkDatabaseURL(c *configState) error {
	v := c.env.Getenv("DATABASE_URL")
	if v == "" {
		return nil // the embedded server
	}
	if _, err := pgxpool.ParseConfig(v); err != nil {
		return errors.New("DATABASE_URL: not a valid PostgreSQL connection string or URL")
	}
	return nil
}

func checkSMTP(c *configState) error {
	v := c.env.Getenv("SMTP_URL")
	if v == "" {
		return nil // outbox
	}
	if _, err := channels.ParseSMTPURL(v); err != nil {
		return err
	}
	if from := c.env.Getenv("SMTP_FROM"); from != "" {
		if _, err := parseAddress(from); err != nil {
			return fmt.Errorf("SMTP_FROM: %w", err)
		}
	}
	return nil
}

var twilioSID = regexp.MustCompile(`^(AC|MG)[0-9a-f]{32}$`)

func checkTwilio(c *configState) error {
	e := c.env
	sid := e.Getenv("TWILIO_ACCOUNT_SID")
	if sid == "" {
		return nil // outbox
	}
	var errs []error
	if !twilioSID.MatchString(sid) || !strings.HasPrefix(sid, "AC") {
		errs = append(errs, errors.New("TWILIO_ACCOUNT_SID: expected AC followed by 32 hexadecimal digits"))
	}
	if e.Getenv("TWILIO_AUTH_TOKEN") == "" {
		errs = append(errs, errors.New("TWILIO_AUTH_TOKEN: required with TWILIO_ACCOUNT_SID (it also signs status callbacks)"))
	}
	ms, from := e.Getenv("TWILIO_MESSAGING_SERVICE_SID"), e.Getenv("TWILIO_FROM")
	switch {
	case ms == "" && from == "":
		errs = append(errs, errors.New("TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM: one is required"))
	case ms != "" && (!twilioSID.MatchString(ms) || !strings.HasPrefix(ms, "MG")):
		errs = append(errs, errors.New("TWILIO_MESSAGING_SERVICE_SID: expected MG followed by 32 hexadecimal digits"))
	}
	if e.Getenv("COURRIER_PUBLIC_URL") == "" {
		errs = append(errs, errors.New("COURRIER_PUBLIC_URL: required with Twilio (status callbacks prove SMS delivery)"))
	}
	return errors.Join(errs...)
}

func checkPublicURL(c *configState) error {
	e := c.env
	var errs []error
	if v := e.Getenv("COURRIER_PUBLIC_URL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("COURRIER_PUBLIC_URL: %q is not an http(s) URL", v))
		} else if u.Scheme != "https" && e.Getenv("COURRIER_UNSUBSCRIBE_SECRET") != "" {
			errs = append(errs, errors.New("COURRIER_PUBLIC_URL: must be https for one-click unsubscribe links (RFC 8058)"))
		}
	}
	if s := e.Getenv("COURRIER_UNSUBSCRIBE_SECRET"); s != "" && len(s) < 32 {
		errs = append(errs, fmt.Errorf("COURRIER_UNSUBSCRIBE_SECRET: %d bytes; use at least 32 random bytes", len(s)))
	}
	return errors.Join(errs...)
}

func checkTemplates(c *configState) error {
	opts := &templates.Options{OverrideDir: c.env.Getenv("COURRIER_TEMPLATES")}
	rep, err := templates.Lint(opts)
	if err != nil {
		if rep != nil && rep.LoadError != "" {
			return errors.New(rep.LoadError)
		}
		var fails []string
		if rep != nil {
			for _, l := range rep.Lines {
				if l.Level == "fail" {
					fails = append(fails, l.Name+": "+l.Message)
				}
			}
		}
		if len(fails) == 0 {
			return err
		}
		return errors.New(strings.Join(fails, "\n"))
	}
	set, err := templates.Load(opts)
	c.templates = set
	return err
}

func checkOTel(c *configState) error {
	var errs []error
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		if v := c.env.Getenv(k); v != "" {
			if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				errs = append(errs, fmt.Errorf("%s: %q is not an http(s) URL (courrier exports OTLP over HTTP)", k, v))
			}
		}
	}
	if v := c.env.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); v != "" && v != "http/protobuf" {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported (http/protobuf only)", v))
	}
	if v := c.env.Getenv("OTEL_TRACES_SAMPLER_ARG"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 || f > 1 {
			errs = append(errs, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio from 0 to 1", v))
		}
	}
	return errors.Join(errs...)
}

// parseAddress accepts "Name <addr@host>" or "addr@host".
func parseAddress(s string) (string, error) {
	if i := strings.LastIndex(s, "<"); i >= 0 && strings.HasSuffix(s, ">") {
		s = s[i+1 : len(s)-1]
	}
	at := strings.LastIndex(s, "@")
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t") {
		return "", fmt.Errorf("%q is not an email address", s)
	}
	return s, nil
}
