package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/courrier-dev/courrier/channels/letters"
	"github.com/courrier-dev/courrier/jobs"
)

type returnedBody struct {
	Returns []struct {
		LetterID string `json:"letter_id"`
		Date     string `json:"date"`
		Reason   string `json:"reason"`
	} `json:"returns"`
}

// postReturnedLetters records returned mail (plis non distribués): each
// letter's postal address becomes undeliverable and its notice moves to the
// next channel or ends not reached. A letter already returned is counted as
// already known; an unknown letter id is listed, nothing is written for it.
func (a *API) postReturnedLetters(w http.ResponseWriter, r *http.Request) {
	var b returnedBody
	if err := decodeJSON(w, r, &b, a.maxBody()); err != nil {
		a.fail(w, r, err)
		return
	}
	if len(b.Returns) == 0 {
		a.fail(w, r, invalid("returns", "at least one returned letter is required"))
		return
	}
	rows := make([]letters.ReturnRow, len(b.Returns))
	for i, x := range b.Returns {
		day, err := time.ParseInLocation("2006-01-02", x.Date, time.UTC)
		if err != nil {
			a.fail(w, r, invalid(fmt.Sprintf("returns[%d].date", i), "must be a date YYYY-MM-DD"))
			return
		}
		rows[i] = letters.ReturnRow{Letter: strings.TrimSpace(x.LetterID), Date: day.Add(12 * time.Hour), Reason: strings.ToUpper(x.Reason)}
		if err := rows[i].Check(); err != nil {
			field := "letter_id"
			if strings.HasPrefix(err.Error(), "reason") {
				field = "reason"
			}
			a.fail(w, r, invalid(fmt.Sprintf("returns[%d].%s", i, field), "%s", err.Error()))
			return
		}
	}
	res, err := jobs.RecordReturnedLetters(r.Context(), a.DB, a.River, rows)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
