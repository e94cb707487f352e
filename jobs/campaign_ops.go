package jobs

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.yaml.in/yaml/v3"

	"github.com/courrier-dev/courrier/campaigns"
)

// CampaignFile is the YAML (or JSON) of `courrier campaign create FILE`.
type CampaignFile struct {
	Name     string             `yaml:"name" json:"name"`
	Kind     campaigns.Kind     `yaml:"kind" json:"kind"`         // general_mailing or reminder
	Template string             `yaml:"template" json:"template"` // default per kind
	Data     map[string]any     `yaml:"data" json:"data"`
	Audience campaigns.Audience `yaml:"audience" json:"audience"`
	StartAt  string             `yaml:"start_at" json:"start_at"` // RFC 3339 or "2027-03-16 09:00" (Europe/Paris); empty: when started
	Pace     campaigns.Pace     `yaml:"pace" json:"pace"`
	Reason   string             `yaml:"reason" json:"reason"`
	Test     bool               `yaml:"test" json:"test"`
	JobSize  int                `yaml:"job_size" json:"job_size"` // notices per deliver_batch job; 0: the server's default
}

// ParseCampaignFile reads a campaign description (YAML or JSON; unknown
// fields are errors) into what CreateCampaign takes. The operator is set by
// the caller.
func ParseCampaignFile(src []byte) (campaigns.New, error) {
	var f CampaignFile
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return campaigns.New{}, err
	}
	return f.New()
}

// New checks f and returns the campaign it describes.
func (f *CampaignFile) New() (campaigns.New, error) {
	if f.Kind != campaigns.GeneralMailing && f.Kind != campaigns.Reminder {
		return campaigns.New{}, &campaigns.Error{Code: campaigns.CodeInvalid, Field: "kind", Msg: fmt.Sprintf("%q must be general_mailing or reminder", f.Kind)}
	}
	n := campaigns.New{Name: f.Name, Kind: f.Kind, TemplateKey: f.Template, Data: f.Data, Audience: f.Audience,
		Pace: f.Pace, Reason: f.Reason, Test: f.Test, JobSize: f.JobSize}
	if f.StartAt != "" {
		t, err := time.Parse(time.RFC3339, f.StartAt)
		if err != nil {
			if t, err = time.ParseInLocation("2006-01-02 15:04", f.StartAt, campaigns.Paris()); err != nil {
				return campaigns.New{}, &campaigns.Error{Code: campaigns.CodeInvalid, Field: "start_at", Msg: fmt.Sprintf("%q is not a time (RFC 3339 or YYYY-MM-DD HH:MM)", f.StartAt)}
			}
		}
		n.StartAt = &t
	}
	return n, nil
}

// CreateCampaign creates a draft campaign (n.CreatedBy is the operator). A
// campaign above the approval threshold waits for ApproveCampaign by
// another operator.
func CreateCampaign(ctx context.Context, pool *pgxpool.Pool, n campaigns.New, cfg *campaigns.Config) (*campaigns.Campaign, error) {
	var c *campaigns.Campaign
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		c, _, err = campaigns.Create(ctx, tx, n, cfg)
		return err
	})
	return c, err
}

// CreateCampaignFromFile is ParseCampaignFile then CreateCampaign. A
// jobSize other than 0 overrides the file's job_size.
func CreateCampaignFromFile(ctx context.Context, pool *pgxpool.Pool, src []byte, operator string, jobSize int, cfg *campaigns.Config) (*campaigns.Campaign, error) {
	n, err := ParseCampaignFile(src)
	if err != nil {
		return nil, err
	}
	n.CreatedBy = operator
	if jobSize != 0 {
		n.JobSize = jobSize
	}
	return CreateCampaign(ctx, pool, n, cfg)
}

// ApproveCampaign approves a campaign for operator, who must not be its
// creator (four-eyes).
func ApproveCampaign(ctx context.Context, pool *pgxpool.Pool, id int64, operator string) (*campaigns.Campaign, error) {
	var c *campaigns.Campaign
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		c, err = campaigns.Approve(ctx, tx, id, operator)
		return err
	})
	return c, err
}

// SetCampaignJobSize sets the campaign's notices per deliver_batch job
// (1 to campaigns.MaxJobSize; 0 changes nothing), for the jobs not
// enqueued yet.
func SetCampaignJobSize(ctx context.Context, pool *pgxpool.Pool, id int64, jobSize int) error {
	return campaigns.SetJobSize(ctx, pool, id, jobSize)
}

// CampaignStatus is a campaign with its counts (computed from its notices)
// and its recorded events (who did what).
type CampaignStatus struct {
	Campaign *campaigns.Campaign `json:"campaign"`
	Counts   campaigns.Counts    `json:"counts"`
	// Stuck is the campaign's work held by a process that stopped, until
	// River's rescuer and the sending lease hand it to a live one.
	Stuck  Stuck             `json:"stuck"`
	Events []campaigns.Event `json:"events"`
}

// GetCampaignStatus completes the campaign if all its notices are final,
// then returns its status.
func GetCampaignStatus(ctx context.Context, pool *pgxpool.Pool, id int64) (*CampaignStatus, error) {
	if _, err := campaigns.CompleteIfDone(ctx, pool, id); err != nil {
		return nil, err
	}
	c, err := campaigns.Get(ctx, pool, id)
	if err != nil {
		return nil, err
	}
	counts, err := campaigns.GetCounts(ctx, pool, id)
	if err != nil {
		return nil, err
	}
	events, err := campaigns.Events(ctx, pool, id)
	if err != nil {
		return nil, err
	}
	stuck, err := StuckWork(ctx, pool, id, 0, time.Now())
	if err != nil {
		return nil, err
	}
	return &CampaignStatus{Campaign: c, Counts: counts, Stuck: stuck, Events: events}, nil
}
