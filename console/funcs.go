package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/courrier-dev/courrier/compliance"
	"github.com/courrier-dev/courrier/staff"
	"github.com/courrier-dev/courrier/territories"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

var frMonths = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
	"octobre", "novembre", "décembre"}

// frDateTime formats t as "12/03/2027 à 18:00" in Paris time.
func frDateTime(t any) string {
	tm, ok := derefTime(t)
	if !ok {
		return "—"
	}
	tm = tm.In(territories.Paris())
	return tm.Format("02/01/2006") + " à " + tm.Format("15:04")
}

func frDate(t any) string {
	tm, ok := derefTime(t)
	if !ok {
		return "—"
	}
	tm = tm.In(territories.Paris())
	return fmt.Sprintf("%d %s %d", tm.Day(), frMonths[tm.Month()-1], tm.Year())
}

func derefTime(t any) (time.Time, bool) {
	switch v := t.(type) {
	case time.Time:
		return v, !v.IsZero()
	case *time.Time:
		if v == nil {
			return time.Time{}, false
		}
		return *v, !v.IsZero()
	}
	return time.Time{}, false
}

// frNumber writes n with a narrow no-break space between thousands.
func frNumber(n any) string {
	var s string
	switch v := n.(type) {
	case int64:
		s = fmt.Sprint(v)
	case int:
		s = fmt.Sprint(v)
	case float64:
		return strings.Replace(fmt.Sprintf("%.1f", v), ".", ",", 1)
	default:
		return fmt.Sprint(v)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func frPercent(f float64) string {
	return strings.Replace(fmt.Sprintf("%.1f", f), ".", ",", 1) + "\u00a0%"
}

var labels = map[string]string{
	// notice and delivery states
	"pending": "en attente", "sending": "en cours d'envoi", "sent": "envoyé", "delivered": "distribué",
	"failed": "échec", "no_route": "aucun canal possible", "cancelled": "annulé", "undelivered": "non distribué",
	"bounced": "rejeté (bounce)", "unknown": "inconnu",
	// campaign states
	"draft": "brouillon", "approved": "approuvée", "scheduled": "planifiée", "running": "en cours",
	"paused": "en pause", "completed": "terminée",
	// request states and urgencies
	"received": "reçue", "acknowledged": "accusé de réception envoyé", "answered": "réponse envoyée", "closed": "close",
	"breached": "délai dépassé", "at_risk": "délai proche", "open": "dans les délais",
	// channels
	"email": "courriel", "sms": "SMS", "letter": "courrier postal",
	// contact status
	"ok": "valide", "undeliverable": "non distribuable",
	// recipient events
	"sms_consent_withdrawn": "consentement SMS retiré", "sms_consent_restored": "consentement SMS rétabli",
	"email_undeliverable": "adresse électronique non distribuable", "phone_undeliverable": "numéro non joignable",
	"unsubscribed": "désinscription des envois d'information",
	// campaign events
	"created": "créée", "started": "démarrée", "resumed": "reprise", "retried": "relance des échecs",
	// request kinds
	"benefit_claim": "demande de prestation", "change_of_situation": "changement de situation", "social_aid": "aide sociale",
	"document": "document", "complaint": "réclamation", "other": "autre",
	"acknowledgement": "accusé de réception", "answer": "réponse",
}

func label(s string) string {
	if l, ok := labels[s]; ok {
		return l
	}
	return s
}

func roleLabel(r staff.Role) string {
	switch r {
	case staff.RoleAgent:
		return "agent"
	case staff.RoleOperator:
		return "opérateur"
	case staff.RoleApprover:
		return "approbateur"
	case staff.RoleAuditor:
		return "auditeur"
	case staff.RoleAdmin:
		return "administrateur"
	}
	return string(r)
}

// stateClass maps a state to a CSS class; the state is always written out
// too, the colour only repeats it.
func stateClass(s string) string {
	switch s {
	case "delivered", "completed", "closed", "open", "ok":
		return "st-good"
	case "failed", "no_route", "bounced", "undelivered", "breached", "cancelled", "undeliverable":
		return "st-bad"
	case "at_risk", "paused", "draft", "pending", "sending", "sent", "received":
		return "st-warn"
	}
	return "st-neutral"
}

func funcs() template.FuncMap {
	return template.FuncMap{
		"dt": frDateTime, "date": frDate, "num": frNumber, "pct": frPercent, "label": label,
		"role": roleLabel, "stateClass": stateClass, "prefix": func() string { return Prefix },
		"add":    func(a, b int) int { return a + b },
		"metric": compliance.FormatValue,
		"fr":     frName,
		"svg":    func(s string) template.HTML { return template.HTML(s) }, // #nosec: our own renderer escapes
	}
}
