package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/courrier-dev/courrier/campaigns"
	"github.com/courrier-dev/courrier/jobs"
)

// CampaignActions serves POST /v1/campaigns/{id}:approve, :start, :pause,
// :resume, :cancel and :retry on the same operations as `courrier
// campaign`. The operator is the request's staff key (its operator name
// decides four-eyes: the creator cannot approve, whatever key they use).
type CampaignActions struct {
	DB     *pgxpool.Pool
	River  *river.Client[pgx.Tx]
	Config *campaigns.Config // nil: defaults
	Logger *slog.Logger
}

// campaignActionRequest is the optional body of a campaign action.
type campaignActionRequest struct {
	Reason  string `json:"reason"`   // cancel
	JobSize int    `json:"job_size"` // start, resume, retry
}

// Register mounts the actions behind the staff scope.
func (h *CampaignActions) Register(s *Server) {
	auth := Authenticate(h.DB)
	// ServeMux wildcards are whole segments: "{id}:approve" is one segment,
	// split here.
	s.Handle("POST /v1/campaigns/{action}", auth(RequireScope(ScopeStaff, requireJSON(http.HandlerFunc(h.serve)))))
}

func (h *CampaignActions) serve(w http.ResponseWriter, r *http.Request) {
	idText, action, ok := strings.Cut(r.PathValue("action"), ":")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || id <= 0 {
		writeError(w, notFound("", "no such endpoint: POST /v1/campaigns/{id}:approve|start|pause|resume|cancel|retry"))
		return
	}
	var req campaignActionRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req, DefaultMaxBodyBytes); err != nil && !errors.Is(err, io.EOF) {
			if e := toError(err); e.Message != "request body is empty: a JSON object is expected" {
				writeError(w, e)
				return
			}
		}
	}
	op := Actor(r.Context())
	ctx := r.Context()
	// Sandbox: a test key acts on test campaigns only, a live key on live ones.
	if cur, err := campaigns.Get(ctx, h.DB, id); err == nil && cur.Test != keyIsTest(ctx) {
		writeError(w, notFound("", "campaign %d not found", id))
		return
	}
	body := map[string]any{}
	var c *campaigns.Campaign
	switch action {
	case "approve":
		c, err = jobs.ApproveCampaign(ctx, h.DB, id, op)
	case "start":
		if err = jobs.SetCampaignJobSize(ctx, h.DB, id, req.JobSize); err == nil {
			c, err = jobs.StartCampaign(ctx, h.DB, h.River, id, op, h.Config)
		}
	case "pause":
		c, err = jobs.PauseCampaign(ctx, h.DB, h.River, id, op)
	case "resume":
		c, err = jobs.ResumeCampaign(ctx, h.DB, h.River, id, op, req.JobSize)
	case "cancel":
		var n int64
		if n, err = jobs.CancelCampaign(ctx, h.DB, h.River, id, op, req.Reason); err == nil {
			body["notices_cancelled"] = n
		}
	case "retry":
		var n int
		if n, err = jobs.RetryCampaign(ctx, h.DB, h.River, id, op, req.JobSize); err == nil {
			body["notices_retried"] = n
		}
	default:
		writeError(w, notFound("", "unknown campaign action %q: approve, start, pause, resume, cancel or retry", action))
		return
	}
	if err != nil {
		e := campaignError(err)
		if e.Status >= 500 {
			h.log().Error("campaign action failed", "campaign_id", id, "action", action, "key_id", keyID(ctx), "error", err)
		}
		writeError(w, e)
		return
	}
	if c == nil {
		if c, err = campaigns.Get(ctx, h.DB, id); err != nil {
			writeError(w, campaignError(err))
			return
		}
	}
	body["campaign"] = c
	body["action"] = action
	body["operator"] = op
	writeJSON(w, http.StatusOK, body)
}

func (h *CampaignActions) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
