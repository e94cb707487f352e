package requests

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/courrier-dev/courrier/agencies"
	"github.com/courrier-dev/courrier/territories"
)

// Settings are the deadlines of requests and complaints. The zero value of
// each field takes its default (see WithDefaults).
type Settings struct {
	// WorkingDays counts deadlines in working days (Monday to Friday, public
	// holidays of Calendar excluded). Default false: calendar days.
	WorkingDays bool
	// Calendar is the beneficiary's Caf calendar (time zone, national and
	// local holidays) in which days are counted. The zero value is Paris's.
	Calendar territories.Calendar
	// Agencies gives each beneficiary's Caf, whose calendar deadlines are
	// counted in (see CalendarOf); nil means the embedded example.
	Agencies *agencies.Set
	// AckDays is the acknowledgement deadline. Default 5.
	AckDays int
	// AnswerDays is the processing deadline of a request. Default 15.
	AnswerDays int
	// MinimumIncomeDays is the processing deadline of a request about a
	// minimum-income benefit. Default 10.
	MinimumIncomeDays int
	// ComplaintDays is the processing deadline of a complaint. Default 15.
	ComplaintDays int
	// WatchdogMargin is how close to its deadline an undelivered
	// acknowledgement is escalated, and an open request reported at risk.
	// Default 48h.
	WatchdogMargin time.Duration
}

// Environment variables read by SettingsFromEnv.
const (
	EnvWorkingDays       = "COURRIER_WORKING_DAYS"        // true or false
	EnvAckDays           = "COURRIER_ACK_DAYS"            // whole days
	EnvAnswerDays        = "COURRIER_ANSWER_DAYS"         // whole days
	EnvMinimumIncomeDays = "COURRIER_MINIMUM_INCOME_DAYS" // whole days
	EnvComplaintDays     = "COURRIER_COMPLAINT_DAYS"      // whole days
	EnvWatchdogMargin    = "COURRIER_WATCHDOG_MARGIN"     // Go duration, e.g. 48h
)

// WithDefaults returns s with every zero field set to its default.
func (s Settings) WithDefaults() Settings {
	if s.AckDays == 0 {
		s.AckDays = 5
	}
	if s.AnswerDays == 0 {
		s.AnswerDays = 15
	}
	if s.MinimumIncomeDays == 0 {
		s.MinimumIncomeDays = 10
	}
	if s.ComplaintDays == 0 {
		s.ComplaintDays = 15
	}
	if s.WatchdogMargin == 0 {
		s.WatchdogMargin = 48 * time.Hour
	}
	return s
}

// Validate reports a setting that cannot work.
func (s Settings) Validate() error {
	s = s.WithDefaults()
	for name, v := range map[string]int{EnvAckDays: s.AckDays, EnvAnswerDays: s.AnswerDays,
		EnvMinimumIncomeDays: s.MinimumIncomeDays, EnvComplaintDays: s.ComplaintDays} {
		if v < 0 || v > 365 {
			return fmt.Errorf("%s: %d days is out of range 1 to 365", name, v)
		}
	}
	if s.WatchdogMargin < 0 {
		return fmt.Errorf("%s: negative margin %s", EnvWatchdogMargin, s.WatchdogMargin)
	}
	return nil
}

// SettingsFromEnv reads Settings from the environment through getenv (e.g.
// os.Getenv); unset variables take the defaults.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	var s Settings
	if v := strings.TrimSpace(getenv(EnvWorkingDays)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("%s: %q is not true or false", EnvWorkingDays, v)
		}
		s.WorkingDays = b
	}
	for name, dst := range map[string]*int{EnvAckDays: &s.AckDays, EnvAnswerDays: &s.AnswerDays,
		EnvMinimumIncomeDays: &s.MinimumIncomeDays, EnvComplaintDays: &s.ComplaintDays} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return s, fmt.Errorf("%s: %q is not a positive number of days", name, v)
			}
			*dst = n
		}
	}
	if v := strings.TrimSpace(getenv(EnvWatchdogMargin)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("%s: %q is not a positive duration such as 48h", EnvWatchdogMargin, v)
		}
		s.WatchdogMargin = d
	}
	s = s.WithDefaults()
	return s, s.Validate()
}

// AddDays returns the instant n days after t, at the same wall-clock time in
// s.Calendar's zone: calendar days, or working days when s.WorkingDays is set.
func (s Settings) AddDays(t time.Time, n int) time.Time {
	if s.WorkingDays {
		return s.Calendar.AddWorkingDays(t, n)
	}
	return s.Calendar.AddDays(t, n)
}

// ForCaf returns s with deadlines counted in the calendar of the Caf named
// caf, or else of the Caf serving postalCode.
func (s Settings) ForCaf(caf, postalCode string) Settings {
	set := s.Agencies
	if set == nil {
		set = agencies.Example()
	}
	s.Calendar = set.Resolve(caf, postalCode).Calendar()
	return s
}

// AckDueBy is when the acknowledgement of a request received at t must have
// been delivered.
func (s Settings) AckDueBy(received time.Time) time.Time {
	return s.AddDays(received, s.WithDefaults().AckDays)
}

// AnswerDaysFor is the processing deadline, in days, of a request of kind.
func (s Settings) AnswerDaysFor(kind string, minimumIncome bool) int {
	s = s.WithDefaults()
	switch {
	case kind == KindComplaint:
		return s.ComplaintDays
	case minimumIncome:
		return s.MinimumIncomeDays
	}
	return s.AnswerDays
}

// AnswerDueBy is when a request of kind received at t must have been
// answered (its answer notice delivered).
func (s Settings) AnswerDueBy(kind string, minimumIncome bool, received time.Time) time.Time {
	return s.AddDays(received, s.AnswerDaysFor(kind, minimumIncome))
}
