package telemetry

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// metricRef finds the series names an expression reads.
var metricRef = regexp.MustCompile(`\b(courrier_[a-z_]+|go_[a-z_]+|process_[a-z_]+)\b`)

func requireKnown(t *testing.T, names map[string]bool, where, expr string) {
	t.Helper()
	refs := metricRef.FindAllString(expr, -1)
	require.NotEmpty(t, refs, "%s: %q reads no courrier metric", where, expr)
	for _, r := range refs {
		require.True(t, names[r], "%s: %q reads %s, which courrier does not export", where, expr, r)
	}
}

// exported is every series name of a fully wired process.
func exported() map[string]bool {
	m := New()
	m.RegisterWatchdog(func() WatchdogCounts { return WatchdogCounts{} })
	m.RegisterStuck(func(context.Context, *pgxpool.Pool) (StuckWork, error) { return StuckWork{}, nil })
	return m.Names()
}

type grafanaPanel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

// TestDashboard checks deploy/grafana/courrier.json: a Grafana dashboard
// whose every panel is placed and whose every query reads metrics that
// courrier exports.
func TestDashboard(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/grafana/courrier.json")
	require.NoError(t, err)
	var d struct {
		Title         string         `json:"title"`
		UID           string         `json:"uid"`
		SchemaVersion int            `json:"schemaVersion"`
		Panels        []grafanaPanel `json:"panels"`
		Templating    struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	require.NoError(t, dec.Decode(&d))
	require.Equal(t, "courrier", d.UID)
	require.NotEmpty(t, d.Title)
	require.GreaterOrEqual(t, d.SchemaVersion, 36)
	require.NotEmpty(t, d.Templating.List)
	names := exported()
	queries, ids := 0, map[string]bool{}
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			require.NotEmpty(t, p.Title)
			require.NotNil(t, p.GridPos, "panel %q has no position", p.Title)
			require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "panel %q overflows the grid", p.Title)
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
			for _, tg := range p.Targets {
				requireKnown(t, names, "panel "+p.Title, tg.Expr)
				require.False(t, ids[p.Title+tg.RefID], "panel %q repeats refId %s", p.Title, tg.RefID)
				ids[p.Title+tg.RefID] = true
				queries++
			}
		}
	}
	walk(d.Panels)
	require.Greater(t, queries, 15)
}

// TestAlertRules checks that every alert of deploy/prometheus/alerts.yml
// reads metrics courrier exports and has a runbook section in
// docs/operations.md. promtool checks their syntax and behaviour (.ci/run).
func TestAlertRules(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	require.NoError(t, err)
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f))
	runbook, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	names := exported()
	alerts := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			requireKnown(t, names, "alert "+r.Alert, r.Expr)
			require.Equal(t, "docs/operations.md#"+strings.ToLower(r.Alert), r.Annotations["runbook_url"])
			require.Contains(t, string(runbook), "### "+r.Alert+"\n", "no runbook section for %s", r.Alert)
			alerts++
		}
	}
	require.GreaterOrEqual(t, alerts, 12)
}
