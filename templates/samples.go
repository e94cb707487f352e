package templates

import "sort"

// Notice kinds with default templates on every channel.
const (
	KindRightsOpened              = "rights_opened"
	KindRightsChanged             = "rights_changed"
	KindNoRights                  = "no_rights"
	KindYearlyStatement           = "yearly_statement"
	KindGeneralInformation        = "general_information"
	KindOutreachFirstBirth        = "outreach_first_birth"
	KindOutreachSeparation        = "outreach_separation"
	KindOutreachChildDeath        = "outreach_child_death"
	KindOutreachParentDeath       = "outreach_parent_death"
	KindReminderIncomeDeclaration = "reminder_income_declaration"
	KindReminderMissingDocument   = "reminder_missing_document"
	KindReminderGeneric           = "reminder_generic"
	KindRequestAcknowledgement    = "request_acknowledgement"
	KindRequestAnswer             = "request_answer"
	KindComplaintAnswer           = "complaint_answer"
)

// samples is valid data for every default kind, as it arrives from JSON.
var samples = map[string]map[string]any{
	KindRightsOpened: {
		"benefit":        "Prime d'activité",
		"amount":         245.3,
		"effective_date": "2027-04-01",
	},
	KindRightsChanged: {
		"benefit":        "Aide personnalisée au logement",
		"old_amount":     "312.40",
		"new_amount":     "287.15",
		"effective_date": "2027-03-01",
		"reason":         "la prise en compte de vos ressources de l'année 2025",
	},
	KindNoRights: {
		"benefit":        "Revenu de solidarité active",
		"ended":          false,
		"reason":         "vos ressources du trimestre dépassent le plafond applicable à votre foyer",
		"effective_date": "2027-03-15",
	},
	KindYearlyStatement: {
		"year":       2026.0,
		"benefits":   []any{"Allocations familiales", "Aide personnalisée au logement"},
		"total_paid": 5234.56,
		"paid_known": true,
	},
	KindGeneralInformation: {
		"period": "printemps 2027",
	},
	KindOutreachFirstBirth:  {},
	KindOutreachSeparation:  {},
	KindOutreachChildDeath:  {},
	KindOutreachParentDeath: {},
	KindReminderIncomeDeclaration: {
		"period":   "avril à juin 2027",
		"due_date": "2027-07-15",
	},
	KindReminderMissingDocument: {
		"documents": []any{"un justificatif de domicile de moins de trois mois", "votre dernier avis d'imposition"},
		"due_date":  "2027-04-30",
	},
	KindReminderGeneric: {
		"title":   "Votre rendez-vous à la Caf",
		"message": "Nous vous rappelons votre rendez-vous du 22 mars 2027 à 10 h à l'accueil de votre Caf. Pensez à apporter une pièce d'identité.",
	},
	KindRequestAcknowledgement: {
		"request_ref":  "DEM-2027-004512",
		"request_type": "demande de prime d'activité",
		"received_at":  "2027-03-02T21:47:00+01:00",
		"answer_by":    "2027-03-17",
	},
	KindRequestAnswer: {
		"request_ref":  "DEM-2027-004512",
		"request_type": "demande de prime d'activité",
		"received_at":  "2027-03-02",
		"answer":       "Votre demande a été acceptée. Vos droits sont ouverts à partir du 1er mars 2027 ; vous recevrez un courrier séparé qui en précise le montant.\n\nVotre premier paiement interviendra début avril 2027.",
	},
	KindComplaintAnswer: {
		"complaint_ref": "REC-2027-000871",
		"received_at":   "2027-03-04",
		"answer":        "Vous nous avez signalé que votre aide au logement n'avait pas été versée en février. Après vérification, ce retard est dû à une erreur de notre part dans l'enregistrement de vos coordonnées bancaires. Nous l'avons corrigée et la somme due vous a été versée le 12 mars 2027.\n\nNous vous prions de nous excuser pour la gêne occasionnée.",
	},
}

// SampleRecipient is the recipient that lint, preview and golden files use.
func SampleRecipient() Recipient {
	return Recipient{Ref: "1234567", Civility: "Mme", GivenName: "Élodie", FamilyName: "Lefèvre"}
}

// SampleData returns valid sample data for a default notice kind, shaped as
// it arrives from JSON (numbers as float64, dates as strings), or nil for an
// unknown kind. The map is a fresh copy the caller may change.
func SampleData(key string) map[string]any {
	s, ok := samples[key]
	if !ok {
		return nil
	}
	out := make(map[string]any, len(s))
	for k, v := range s {
		if l, ok := v.([]any); ok {
			v = append([]any(nil), l...)
		}
		out[k] = v
	}
	return out
}

// DefaultKinds returns the notice kinds courrier ships templates for, sorted.
func DefaultKinds() []string {
	keys := make([]string, 0, len(samples))
	for k := range samples {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// syntheticData makes valid data for declared fields, for kinds that have no
// SampleData (templates added by an override directory).
func syntheticData(fields []Field) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		switch f.Type {
		case TypeString:
			out[f.Name] = "exemple de texte"
		case TypeDate:
			out[f.Name] = "2027-03-15"
		case TypeMoney:
			out[f.Name] = 1234.56
		case TypeInt:
			out[f.Name] = 3.0
		case TypeBool:
			out[f.Name] = true
		case TypeList:
			out[f.Name] = []any{"premier élément", "second élément"}
		}
	}
	return out
}

// sampleFor returns SampleData for key completed with synthetic values for
// any declared field it lacks.
func sampleFor(key string, fields []Field) map[string]any {
	d := SampleData(key)
	if d == nil {
		d = map[string]any{}
	}
	for k, v := range syntheticData(fields) {
		if _, ok := d[k]; !ok {
			d[k] = v
		}
	}
	return d
}
