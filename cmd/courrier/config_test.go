package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func configEnv(vars map[string]string, out io.Writer) *Env {
	return &Env{Stdout: out, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}
}

// TestConfigCheckDefaults: with nothing configured (outbox, embedded
// database, embedded templates and calendar) the configuration is valid.
func TestConfigCheckDefaults(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, Main(context.Background(), configEnv(map[string]string{}, &out), []string{"config", "check"}))
	require.Contains(t, out.String(), "ok   COURRIER_ROUTES\n")
	require.Contains(t, out.String(), "configuration ok\n")
	require.NotContains(t, out.String(), "FAIL")
}

// TestConfigCheckReportsEveryProblem: each wrong setting is named, a bad
// calendar file is reported with its file and line, and no secret appears
// in the output.
func TestConfigCheckReportsEveryProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	calendar := filepath.Join(dir, "calendar.yaml")
	require.NoError(t, os.WriteFile(calendar, []byte("entries:\n  - id: x\n    template: no_such_template\n    when: [\n"), 0o600))
	agencies := filepath.Join(dir, "agencies.yaml")
	require.NoError(t, os.WriteFile(agencies, []byte("cafs:\n  - code: \"75\"\n    name: [\n"), 0o600))
	vars := map[string]string{
		"COURRIER_WORKERS":            "many",
		"COURRIER_FETCH_COOLDOWN":     "fast",
		"COURRIER_HTTP_ADDR":          "8080",
		"SMTP_URL":                    "smtps://relay:Sup3rSecretPw@mail.example.fr:99999",
		"TWILIO_ACCOUNT_SID":          "AC0123456789abcdef0123456789abcdef",
		"TWILIO_AUTH_TOKEN":           "tok3nSecretValue",
		"COURRIER_UNSUBSCRIBE_SECRET": "short-secret-value",
		"COURRIER_PUBLIC_URL":         "http://courrier.example.fr",
		"COURRIER_ROUTES":             "rights_opened=email,fax",
		"COURRIER_CALENDAR":           calendar,
		"COURRIER_LOG_LEVEL":          "loud",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318",
		"COURRIER_AGENCIES":           agencies,
	}
	var out bytes.Buffer
	err := Main(context.Background(), configEnv(vars, &out), []string{"config", "check"})
	require.Error(t, err)
	got := out.String()
	for _, want := range []string{
		`FAIL numbers and durations: COURRIER_WORKERS: "many"`,
		`COURRIER_FETCH_COOLDOWN: "fast" is not a duration`,
		`FAIL listen addresses: COURRIER_HTTP_ADDR: "8080" is not host:port`,
		`FAIL SMTP: SMTP_URL port "99999"`,
		`FAIL Twilio: TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM: one is required`,
		`FAIL public URL and unsubscribe secret: COURRIER_PUBLIC_URL: must be https`,
		`COURRIER_UNSUBSCRIBE_SECRET: 18 bytes`,
		`FAIL COURRIER_ROUTES: route "rights_opened=email,fax": unknown channel "fax"`,
		`FAIL campaign calendar (COURRIER_CALENDAR): ` + calendar + `:`,
		`FAIL logging: COURRIER_LOG_LEVEL: "loud"`,
		`FAIL OpenTelemetry (OTEL_*): OTEL_EXPORTER_OTLP_ENDPOINT`,
		`FAIL agencies (COURRIER_AGENCIES): COURRIER_AGENCIES: ` + agencies + `:`,
		"ok   request deadlines\n",
	} {
		require.Contains(t, got, want)
	}
	for _, secret := range []string{"Sup3rSecretPw", "tok3nSecretValue", "short-secret-value"} {
		require.NotContains(t, got, secret)
	}
	require.Equal(t, 10, strings.Count(got, "FAIL "), got)
}

// TestConfigCheckNeedsItsSubcommand: "config" alone is an error, not a
// silent success.
func TestConfigCheckNeedsItsSubcommand(t *testing.T) {
	t.Parallel()
	err := Main(context.Background(), configEnv(map[string]string{}, io.Discard), []string{"config"})
	require.ErrorContains(t, err, "courrier config check")
}

// TestVersionFromBuildInfo: the version comes from the link-time flag, else
// the module version, else the VCS revision (marked when the tree was
// modified); `courrier version` prints the build's details.
func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-06T23:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	b := versionFrom(bi, "dev")
	require.Equal(t, "dev-0123456789ab+dirty", b.Version)
	require.Equal(t, "2026-12-06T23:00:00Z", b.Time)
	require.True(t, b.Modified)
	require.Equal(t, "v1.2.3", versionFrom(bi, "v1.2.3").Version)
	bi.Main.Version = "v0.0.0-20261206230000-0123456789ab"
	require.Equal(t, "v0.0.0-20261206230000-0123456789ab+dirty", versionFrom(bi, "dev").Version)

	var out bytes.Buffer
	require.NoError(t, Main(context.Background(), configEnv(map[string]string{}, &out), []string{"version"}))
	require.True(t, strings.HasPrefix(out.String(), "courrier "), out.String())
	require.Contains(t, out.String(), "go        go1.")
}
