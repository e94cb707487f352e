package console

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/staff"
)

// periodFor returns the Paris calendar year or month containing now, up to now.
func periodFor(which string, now time.Time) compliance.Period {
	n := now.In(compliance.Paris)
	from := time.Date(n.Year(), 1, 1, 0, 0, 0, 0, compliance.Paris)
	if which == "month" {
		from = time.Date(n.Year(), n.Month(), 1, 0, 0, 0, 0, compliance.Paris)
	}
	return compliance.Period{From: from, To: now, AsOf: now}
}

// French names of the rules, their lists and figures (the compliance
// package names them in English for operators).
var frRuleTitles = map[string]string{
	compliance.RuleYearlyNotice:    "Avis personnalisé au moins une fois par an",
	compliance.RuleGeneralMailings: "Trois envois d'information générale par année civile",
	compliance.RuleAcknowledgement: "Accusé de réception des demandes en ligne sous 5 jours",
	compliance.RuleAnswer15d:       "Réponse aux demandes sous 15 jours (85 % au moins)",
	compliance.RuleMinimumIncome:   "Réponse aux demandes de minima sociaux sous 10 jours (90 % au moins)",
	compliance.RuleComplaints15d:   "Réponse aux réclamations sous 15 jours",
}

var frNames = map[string]string{
	"not_covered": "non couverts", "at_risk": "à risque", "below_target": "sous l'objectif", "joined_mid_year": "arrivés en cours d'année",
	"late": "en retard", "overdue": "délai dépassé sans réponse", "beneficiaries_due": "allocataires concernés", "covered": "couverts",
	"covered_share": "part couverte", "not_yet_due": "pas encore concernés", "whole_year_beneficiaries": "allocataires présents toute l'année",
	"delivered_general_mailings": "envois généraux distribués", "received": "reçues", "judged": "jugées", "in_time": "dans les délais",
	"pending": "en attente", "in_time_share": "part dans les délais", "median_delay": "délai médian", "p95_delay": "délai au 95e centile",
	"max_delay": "délai maximal",
}

func frName(s string) string {
	if v, ok := frNames[s]; ok {
		return v
	}
	return s
}

func frRuleTitle(name, fallback string) string {
	if v, ok := frRuleTitles[name]; ok {
		return v
	}
	return fallback
}

type ruleStatus struct {
	Name, Title, Target string
	Year, Month         *compliance.Report
	Rows                []ruleRow
	Chart               string
}

type ruleRow struct {
	Period, Label string
	Report        *compliance.Report
}

// share returns the rule's headline share in percent, if it has one.
func share(r *compliance.Report) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Unit == compliance.UnitBasisPoints {
			return float64(m.Value) / 100, true
		}
	}
	return 0, false
}

func ruleTarget(name string) float64 {
	switch name {
	case compliance.RuleAnswer15d:
		return 85
	case compliance.RuleMinimumIncome:
		return 90
	case compliance.RuleGeneralMailings:
		return 0
	}
	return 100
}

func (c *Console) compliancePage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	ctx := r.Context()
	now := c.now()
	var out []ruleStatus
	for _, name := range compliance.RuleNames() {
		rule := compliance.Rules[name]
		st := ruleStatus{Name: name, Title: frRuleTitle(name, rule.Title), Target: rule.Target}
		var err error
		if st.Year, err = compliance.Run(ctx, c.DB, name, periodFor("year", now)); err == nil {
			st.Month, err = compliance.Run(ctx, c.DB, name, periodFor("month", now))
		}
		if err != nil {
			c.fail(w, r, s, fmt.Errorf("compliance %s: %w", name, err))
			return
		}
		st.Rows = []ruleRow{{"year", "Année en cours", st.Year}, {"month", "Mois en cours", st.Month}}
		var bars []bar
		if v, ok := share(st.Year); ok {
			bars = append(bars, bar{"Année en cours", v})
		}
		if v, ok := share(st.Month); ok {
			bars = append(bars, bar{"Mois en cours", v})
		}
		if len(bars) > 0 {
			st.Chart = barChart(st.Title, bars, ruleTarget(name))
		}
		out = append(out, st)
	}
	c.render(w, r, s, http.StatusOK, "compliance", "Tableau de bord de conformité", out)
}

type ruleListView struct {
	Rule   string
	Period string
	Report *compliance.Report
	List   compliance.List
}

func (c *Console) ruleReport(w http.ResponseWriter, r *http.Request, s *staff.Session) (*compliance.Report, string, bool) {
	name := r.PathValue("rule")
	if _, ok := compliance.Rules[name]; !ok {
		c.errorPage(w, r, s, http.StatusNotFound, "Règle inconnue.")
		return nil, "", false
	}
	period := r.URL.Query().Get("period")
	if period != "month" {
		period = "year"
	}
	rep, err := compliance.Run(r.Context(), c.DB, name, periodFor(period, c.now()))
	if err != nil {
		c.fail(w, r, s, err)
		return nil, "", false
	}
	return rep, period, true
}

// ruleListPage shows the entries of one list behind a rule's figures.
func (c *Console) ruleListPage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	rep, period, ok := c.ruleReport(w, r, s)
	if !ok {
		return
	}
	v := ruleListView{Rule: rep.Rule, Period: period, Report: rep, List: rep.List(r.URL.Query().Get("list"))}
	c.render(w, r, s, http.StatusOK, "rulelist", frRuleTitle(rep.Rule, rep.Title), v)
}

func (c *Console) ruleEvidence(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	name := r.PathValue("rule")
	period := r.URL.Query().Get("period")
	if period != "month" {
		period = "year"
	}
	pack, err := compliance.Packer{DB: c.DB, Key: c.LedgerKey}.ForRule(r.Context(), name, periodFor(period, c.now()))
	if errors.Is(err, compliance.ErrInvalid) {
		c.errorPage(w, r, s, http.StatusNotFound, "Règle inconnue.")
		return
	}
	if err == nil {
		err = staff.Record(r.Context(), c.DB, s.Account, "evidence_download", "rule:"+name, period)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="preuves-%s-%s.json"`, name, period))
	_ = compliance.WritePack(w, pack, compliance.FormatJSON)
}
