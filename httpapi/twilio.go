package httpapi

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twilio/twilio-go/client"
	"golang.org/x/text/unicode/norm"

	"github.com/courrier-dev/courrier/channels"
	"github.com/courrier-dev/courrier/ledger"
	"github.com/courrier-dev/courrier/recipients"
)

// maxWebhookBody bounds what a webhook reads; Twilio's forms are small.
const maxWebhookBody = 64 << 10

// TwilioWebhooks serves Twilio's status callbacks
// (POST /webhooks/twilio/status) and inbound messages
// (POST /webhooks/twilio/inbound). Every request must carry a valid
// X-Twilio-Signature computed over PublicBaseURL + the request URI;
// anything else gets 403 and records nothing.
type TwilioWebhooks struct {
	DB            *pgxpool.Pool
	AuthToken     string
	PublicBaseURL string // e.g. https://courrier.example.fr, as configured at Twilio
	Logger        *slog.Logger
	// OnFinalFailure, when set, runs in the receipt's transaction after a
	// receipt made a delivery undelivered or failed, to move the notice on
	// to its next channel.
	OnFinalFailure func(ctx context.Context, tx pgx.Tx, noticeID int64) error
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (h *TwilioWebhooks) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

func (h *TwilioWebhooks) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

// verify parses the form and checks its signature. It answers 403 itself and
// returns false when the request is not from Twilio.
func (h *TwilioWebhooks) verify(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return false
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" || h.AuthToken == "" {
		h.logger().Warn("twilio webhook without signature", "route", r.URL.Path)
		http.Error(w, "forbidden", http.StatusForbidden)
		return false
	}
	params := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	validator := client.NewRequestValidator(h.AuthToken)
	if !validator.Validate(strings.TrimRight(h.PublicBaseURL, "/")+r.URL.RequestURI(), params, sig) {
		h.logger().Warn("twilio webhook with an invalid signature", "route", r.URL.Path)
		http.Error(w, "forbidden", http.StatusForbidden)
		return false
	}
	return true
}

// Status records a message status callback in the ledger. Statuses merge
// order-independently (see ledger.RecordReceipt). An unknown MessageSid is
// acknowledged with 200 so that Twilio stops retrying, and nothing is written.
func (h *TwilioWebhooks) Status(w http.ResponseWriter, r *http.Request) {
	if !h.verify(w, r) {
		return
	}
	sid := r.PostForm.Get("MessageSid")
	if sid == "" {
		sid = r.PostForm.Get("SmsSid")
	}
	status := r.PostForm.Get("MessageStatus")
	if status == "" {
		status = r.PostForm.Get("SmsStatus")
	}
	if sid == "" || status == "" {
		http.Error(w, "MessageSid and MessageStatus are required", http.StatusBadRequest)
		return
	}
	deliveryID, _ := strconv.ParseInt(r.URL.Query().Get("delivery"), 10, 64)
	receipt := ledger.Receipt{
		Provider: "twilio", MessageID: sid, DeliveryID: deliveryID, Status: status,
		ErrorCode: r.PostForm.Get("ErrorCode"), OccurredAt: h.now(),
	}
	var out ledger.ReceiptOutcome
	err := pgx.BeginFunc(r.Context(), h.DB, func(tx pgx.Tx) error {
		var err error
		if out, err = ledger.RecordReceipt(r.Context(), tx, receipt); err != nil {
			return err
		}
		if out.FinalFailure && h.OnFinalFailure != nil {
			return h.OnFinalFailure(r.Context(), tx, out.NoticeID)
		}
		return nil
	})
	log := h.logger().With("message_sid", sid, "delivery_id", deliveryID, "status", status)
	if err != nil {
		log.Error("record twilio status", "error", err)
		http.Error(w, "could not record the status", http.StatusInternalServerError) // Twilio retries
		return
	}
	if !out.Known {
		log.Warn("twilio status for an unknown message: ignored")
	} else {
		log.Info("twilio status recorded", "notice_id", out.NoticeID, "state", out.State, "final_failure", out.FinalFailure)
	}
	w.WriteHeader(http.StatusOK)
}

// Inbound keywords, compared without accents, case, punctuation or extra
// spaces. They mirror Twilio's default opt-out and opt-in keywords (Twilio
// blocks or unblocks the number itself on those), plus the usual French
// ones ("Arrêt !", "stop sms", "désabonner").
var (
	optOutKeywords = map[string]bool{
		"STOP": true, "STOP SMS": true, "ARRET": true, "ARRET SMS": true, "ARRETER": true, "ARRETEZ": true,
		"STOPALL": true, "STOP ALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true, "QUIT": true,
		"DESABONNER": true, "DESABONNEMENT": true, "DESINSCRIRE": true, "DESINSCRIPTION": true,
	}
	optInKeywords = map[string]bool{"START": true, "UNSTOP": true, "YES": true}
)

// InboundKeyword returns "stop", "start" or "" for an inbound SMS body.
func InboundKeyword(body string) string {
	b := keywordForm(body)
	switch {
	case optOutKeywords[b]:
		return "stop"
	case optInKeywords[b]:
		return "start"
	}
	return ""
}

// keywordForm upper-cases body, drops accents, turns punctuation and any
// space (French typography's no-break space before "!") into single spaces
// and trims them: "  Arrêt !" → "ARRET".
func keywordForm(body string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(body) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // combining accent
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteString(strings.ToUpper(string(r)))
		default:
			space = true
		}
	}
	return b.String()
}

const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// Inbound handles a reply to one of our SMS: STOP (and its French forms)
// withdraws SMS consent from every beneficiary with the sender's number,
// START restores it; both are appended to recipient_events. Other replies are
// ignored. The answer is always empty TwiML: courrier sends no auto-reply
// (Twilio's own opt-out confirmation is enough).
func (h *TwilioWebhooks) Inbound(w http.ResponseWriter, r *http.Request) {
	if !h.verify(w, r) {
		return
	}
	sid := r.PostForm.Get("MessageSid")
	from := strings.TrimSpace(r.PostForm.Get("From"))
	action := InboundKeyword(r.PostForm.Get("Body"))
	log := h.logger().With("message_sid", sid)
	if action != "" && from != "" {
		var (
			n   int
			err error
		)
		if action == "stop" {
			n, err = recipients.WithdrawSMSConsentByPhone(r.Context(), h.DB, from, "twilio_inbound")
		} else {
			n, err = recipients.RestoreSMSConsentByPhone(r.Context(), h.DB, from, "twilio_inbound")
		}
		if err != nil {
			log.Error("record inbound sms keyword", "action", action, "error", err)
			http.Error(w, "could not record the reply", http.StatusInternalServerError)
			return
		}
		log.Info("inbound sms keyword", "action", action, "recipients_changed", n)
	} else {
		log.Debug("inbound sms without keyword ignored")
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write([]byte(emptyTwiML))
}

// Unsubscribe serves the signed links of List-Unsubscribe
// (GET/POST /unsubscribe/{token}). POST with List-Unsubscribe=One-Click
// (RFC 8058, sent by mail clients, and by the confirmation page) opts the
// beneficiary out of general mailings and outreach; GET only shows a page
// with a confirmation button, because link scanners fetch URLs.
type Unsubscribe struct {
	DB     *pgxpool.Pool
	Secret []byte
	Now    func() time.Time
}

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – Caf</title></head>
<body>
<main>
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{if .Form}}<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Confirmer le désabonnement</button>
</form>{{end}}
<p>Les courriers relatifs à vos droits (notifications, réponses à vos demandes) continueront de vous être adressés.</p>
</main>
</body>
</html>
`))

// unsubscribeWhat says what unsubscribing really does: general mailings are
// owed to every beneficiary several times a year, so they keep coming, by
// post; life-event offers stop.
func unsubscribeWhat(done bool) string {
	what := "vous ne recevrez plus par courriel ni par SMS les lettres d'information de la Caf : " +
		"nous sommes tenus de vous les adresser plusieurs fois par an, elles vous parviendront donc par courrier postal. " +
		"Vous ne recevrez plus nos propositions liées aux événements de la vie (naissance, séparation, décès)."
	if done {
		return "Votre demande est enregistrée : " + what
	}
	return "Si vous confirmez, " + what
}

type unsubscribeView struct {
	Title, Text string
	Form        bool
}

func (u *Unsubscribe) page(w http.ResponseWriter, status int, v unsubscribeView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = unsubscribePage.Execute(w, v)
}

func (u *Unsubscribe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if token == "" {
		token = strings.TrimPrefix(r.URL.Path, "/unsubscribe/")
	}
	now := time.Now()
	if u.Now != nil {
		now = u.Now()
	}
	id, kind, err := channels.VerifyUnsubscribe(u.Secret, token, now)
	switch {
	case errors.Is(err, channels.ErrTokenExpired):
		u.page(w, http.StatusGone, unsubscribeView{Title: "Lien expiré",
			Text: "Ce lien de désabonnement a expiré. Utilisez le lien du message le plus récent, ou votre espace Mon Compte sur caf.fr."})
		return
	case err != nil:
		u.page(w, http.StatusBadRequest, unsubscribeView{Title: "Lien invalide",
			Text: "Ce lien de désabonnement n'est pas valide. Vérifiez qu'il a été copié en entier."})
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		u.page(w, http.StatusOK, unsubscribeView{Title: "Se désabonner",
			Text: unsubscribeWhat(false), Form: true})
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBody)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("List-Unsubscribe") != "One-Click" {
			http.Error(w, "expected List-Unsubscribe=One-Click", http.StatusBadRequest)
			return
		}
		err := recipients.OptOutOutreach(r.Context(), u.DB, id, "unsubscribe_link:"+kind)
		if errors.Is(err, recipients.ErrNotFound) {
			u.page(w, http.StatusNotFound, unsubscribeView{Title: "Lien invalide", Text: "Ce lien ne correspond à aucun dossier."})
			return
		}
		if err != nil {
			http.Error(w, "could not record the request", http.StatusInternalServerError)
			return
		}
		u.page(w, http.StatusOK, unsubscribeView{Title: "Désabonnement enregistré",
			Text: unsubscribeWhat(true)})
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
