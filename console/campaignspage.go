package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/jobs"
	"github.com/courrier-dev/courrier/staff"
	"github.com/courrier-dev/courrier/templates"
)

func (c *Console) campaignRoutes(page func(string, staff.Permission, func(http.ResponseWriter, *http.Request, *staff.Session))) {
	page("GET /campaigns", staff.PermViewCampaigns, c.campaignsPage)
	page("GET /campaigns/new", staff.PermRunCampaigns, c.newCampaignForm)
	page("POST /campaigns/new", staff.PermRunCampaigns, c.createCampaign)
	page("GET /campaigns/{id}", staff.PermViewCampaigns, c.campaignPage)
	page("POST /campaigns/{id}/approve", staff.PermApprove, c.campaignAction)
	for _, a := range []string{"start", "pause", "resume", "cancel", "retry"} {
		page("POST /campaigns/{id}/"+a, staff.PermRunCampaigns, c.campaignAction)
	}
}

type campaignsView struct {
	Items  []*campaigns.Progress
	Next   int64
	CanNew bool
}

// campaignsPage lists campaigns with their live progress; with
// ?fragment=rows it renders only the table body, which the page's script
// fetches again every few seconds.
func (c *Console) campaignsPage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	list, next, err := campaigns.ListProgress(r.Context(), c.DB, c.now(), &campaigns.ListOpts{Before: before, Limit: 50})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := campaignsView{Items: list, Next: next, CanNew: s.Account.Role.Can(staff.PermRunCampaigns)}
	if r.URL.Query().Get("fragment") == "rows" {
		c.renderFragment(w, r, s, "campaigns", "rows", v)
		return
	}
	c.render(w, r, s, http.StatusOK, "campaigns", "Campagnes", v)
}

type campaignView struct {
	P                  *campaigns.Progress
	Events             []campaigns.Event
	Chart              string
	Total              int64
	CanRun, CanApprove bool
	OwnCampaign        bool
	Error              string
}

func (c *Console) campaignView(r *http.Request, s *staff.Session, id int64) (*campaignView, error) {
	ctx := r.Context()
	if _, err := campaigns.CompleteIfDone(ctx, c.DB, id); err != nil {
		return nil, err
	}
	p, err := campaigns.GetProgress(ctx, c.DB, id, c.now())
	if err != nil {
		return nil, err
	}
	v := &campaignView{P: p, CanRun: s.Account.Role.Can(staff.PermRunCampaigns), CanApprove: s.Account.Role.Can(staff.PermApprove),
		OwnCampaign: campaigns.SameOperator(p.Campaign.CreatedBy, s.Account.Actor())}
	if v.Events, err = campaigns.Events(ctx, c.DB, id); err != nil {
		return nil, err
	}
	pts, err := campaigns.Series(ctx, c.DB, id, 24)
	if err != nil {
		return nil, err
	}
	v.Total = max(p.Counts.Estimate, p.Counts.Targeted, p.Counts.Created)
	if p.Campaign.FanoutDoneAt != nil {
		v.Total = p.Counts.Created
	}
	v.Chart = progressChart(pts, v.Total)
	return v, nil
}

func campaignID(r *http.Request) int64 {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id
}

// campaignPage shows a campaign; ?fragment=progress renders only its
// progress block (refreshed by the page's script).
func (c *Console) campaignPage(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	v, err := c.campaignView(r, s, campaignID(r))
	if code, _ := campaigns.ErrorCode(err); code == campaigns.CodeNotFound {
		c.errorPage(w, r, s, http.StatusNotFound, "Campagne introuvable.")
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if r.URL.Query().Get("fragment") == "progress" {
		c.renderFragment(w, r, s, "campaign", "progress", v)
		return
	}
	c.render(w, r, s, http.StatusOK, "campaign", "Campagne n° "+strconv.FormatInt(v.P.Campaign.ID, 10)+" — "+v.P.Campaign.Name, v)
}

// campaignAction runs one campaign operation (the jobs functions the CLI
// and the API call) as the staff account, and records it.
func (c *Console) campaignAction(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	ctx := r.Context()
	id := campaignID(r)
	action := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	actor := s.Account.Actor()
	var err error
	detail := ""
	switch action {
	case "approve":
		_, err = jobs.ApproveCampaign(ctx, c.DB, id, actor)
	case "start":
		_, err = jobs.StartCampaign(ctx, c.DB, c.River, id, actor, c.Campaigns)
	case "pause":
		_, err = jobs.PauseCampaign(ctx, c.DB, c.River, id, actor)
	case "resume":
		_, err = jobs.ResumeCampaign(ctx, c.DB, c.River, id, actor, 0)
	case "cancel":
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if reason == "" {
			reason = "annulée depuis la console"
		}
		var n int64
		n, err = jobs.CancelCampaign(ctx, c.DB, c.River, id, actor, reason)
		detail = fmt.Sprintf("%d notices cancelled", n)
	case "retry":
		var n int
		n, err = jobs.RetryCampaign(ctx, c.DB, c.River, id, actor, 0)
		detail = fmt.Sprintf("%d notices retried", n)
	}
	target := fmt.Sprintf("campaign:%d", id)
	var ce *campaigns.Error
	if errors.As(err, &ce) {
		_ = staff.Record(ctx, c.DB, s.Account, "campaign_"+action+"_refused", target, ce.Msg)
		status := http.StatusConflict
		switch ce.Code {
		case campaigns.CodeApproval:
			status = http.StatusForbidden
		case campaigns.CodeNotFound:
			status = http.StatusNotFound
		case campaigns.CodeInvalid:
			status = http.StatusBadRequest
		}
		v, verr := c.campaignView(r, s, id)
		if verr != nil {
			c.errorPage(w, r, s, status, actionRefused(action, ce))
			return
		}
		v.Error = actionRefused(action, ce)
		c.render(w, r, s, status, "campaign", "Campagne n° "+strconv.FormatInt(id, 10)+" — "+v.P.Campaign.Name, v)
		return
	}
	if err == nil {
		err = staff.Record(ctx, c.DB, s.Account, "campaign_"+action, target, detail)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s/campaigns/%d?ok=%s", Prefix, id, urlQueryEscape(actionDone[action])), http.StatusSeeOther)
}

var actionDone = map[string]string{
	"approve": "Campagne approuvée.", "start": "Campagne démarrée.", "pause": "Campagne mise en pause.",
	"resume": "Campagne reprise.", "cancel": "Campagne annulée.", "retry": "Relance des échecs programmée.",
}

func actionRefused(action string, e *campaigns.Error) string {
	switch {
	case e.Code == campaigns.CodeApproval && action == "approve":
		return "Refusé (contrôle à quatre yeux) : la personne qui a créé la campagne ne peut pas l'approuver ; une autre personne habilitée doit le faire."
	case e.Code == campaigns.CodeApproval:
		return "Refusé : la campagne doit d'abord être approuvée par une autre personne que celle qui l'a créée."
	case e.Code == campaigns.CodeConflict:
		return "Action impossible dans l'état actuel de la campagne (" + e.Msg + ")."
	}
	return "Action refusée : " + e.Msg
}

type newCampaignView struct {
	Templates []string
	Template  string
	Name      string
	Reason    string
	Benefits  string
	Depts     string
	Contact   string
	RefPrefix string
	Fields    []sendField
	Error     string
}

func campaignTemplates(set *templates.Set) []string {
	var out []string
	for _, k := range set.Keys() {
		if k == "general_information" || strings.HasPrefix(k, "reminder_") {
			out = append(out, k)
		}
	}
	return out
}

func (c *Console) newCampaignView(r *http.Request) newCampaignView {
	v := newCampaignView{Templates: campaignTemplates(c.Templates), Template: r.FormValue("template"), Name: r.FormValue("name"),
		Reason: r.FormValue("reason"), Benefits: r.FormValue("benefits"), Depts: r.FormValue("departements"),
		Contact: r.FormValue("contact"), RefPrefix: r.FormValue("ref_prefix")}
	if v.Template == "" || !c.Templates.Has(v.Template, "email") && !c.Templates.Has(v.Template, "letter") && !c.Templates.Has(v.Template, "sms") {
		v.Template = "general_information"
	}
	for _, f := range c.Templates.KindFields(v.Template) {
		v.Fields = append(v.Fields, sendField{Field: f, Value: r.FormValue("f_" + f.Name)})
	}
	return v
}

func (c *Console) newCampaignForm(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	c.render(w, r, s, http.StatusOK, "campaignnew", "Nouvelle campagne", c.newCampaignView(r))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' }) {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

// createCampaign creates a draft campaign from the form, or from an
// uploaded audience file (YAML or JSON, as for `courrier campaign`), with
// the staff account as its creator.
func (c *Console) createCampaign(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	ctx := r.Context()
	v := c.newCampaignView(r)
	sv := sendView{Fields: v.Fields}
	n := campaigns.New{Name: strings.TrimSpace(v.Name), TemplateKey: v.Template, Reason: v.Reason, Data: sv.data(),
		CreatedBy: s.Account.Actor(), Audience: campaigns.Audience{Benefits: splitList(v.Benefits),
			Departements: splitList(v.Depts), Contact: v.Contact, RefPrefix: strings.TrimSpace(v.RefPrefix)}}
	n.Kind = campaigns.Reminder
	if v.Template == "general_information" {
		n.Kind = campaigns.GeneralMailing
	}
	if f, _, err := r.FormFile("audience_file"); err == nil {
		src, err := io.ReadAll(io.LimitReader(f, 1<<20))
		f.Close()
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		a, err := campaigns.ParseAudience(src)
		if err != nil {
			v.Error = "Fichier d'audience invalide : " + err.Error()
			c.render(w, r, s, http.StatusBadRequest, "campaignnew", "Nouvelle campagne", v)
			return
		}
		n.Audience = *a
	}
	if n.Name == "" {
		v.Error = "Le nom de la campagne est obligatoire."
		c.render(w, r, s, http.StatusBadRequest, "campaignnew", "Nouvelle campagne", v)
		return
	}
	camp, err := jobs.CreateCampaign(ctx, c.DB, n, c.Campaigns)
	var ce *campaigns.Error
	var fe *campaigns.FilterError
	if errors.As(err, &ce) || errors.As(err, &fe) {
		v.Error = "Campagne refusée : " + err.Error()
		c.render(w, r, s, http.StatusBadRequest, "campaignnew", "Nouvelle campagne", v)
		return
	}
	if err == nil {
		err = staff.Record(ctx, c.DB, s.Account, "campaign_create", fmt.Sprintf("campaign:%d", camp.ID), string(n.Kind))
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	msg := "Campagne créée."
	if camp.NeedsApproval {
		msg = "Campagne créée : elle doit être approuvée par une autre personne avant de démarrer."
	}
	http.Redirect(w, r, fmt.Sprintf("%s/campaigns/%d?ok=%s", Prefix, camp.ID, urlQueryEscape(msg)), http.StatusSeeOther)
}
