package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// sandboxLists seeds the same beneficiary number twice, once live and once
// as test data, each with two notices, a request and a campaign, and
// returns the live and test campaign ids.
func sandboxLists(t *testing.T) (b *apiBundle, liveCampaign, testCampaign int64) {
	t.Helper()
	b = setupAPI(t, nil)
	ctx := context.Background()
	const body = `{"given_name":"Léa","family_name":"Dupré","email":"lea.dupre@exemple.fr","address_line1":"3 rue des Lilas","postal_code":"75011","city":"Paris"}`
	for _, key := range []string{"ingest", "test"} {
		status, out := b.doJSON(t, "PUT", "/v1/recipients/1000001", key, body)
		require.Equal(t, http.StatusCreated, status, out)
		require.Equal(t, key == "test", out["test"])
	}
	for _, test := range []bool{false, true} {
		var id int64
		require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO campaigns (name, kind, notice_kind, template_key, created_by, state, test)
			VALUES ($1, 'reminder', 'reminder', 'reminder', 'key:1', 'running', $2) RETURNING id`,
			fmt.Sprintf("test=%v", test), test).Scan(&id))
		if test {
			testCampaign = id
		} else {
			liveCampaign = id
		}
		// The notices' test flag comes from their beneficiary (trigger).
		_, err := b.pool.Exec(ctx, `
			INSERT INTO notices (recipient_id, kind, template_key, idempotency_key, state, campaign_id)
			SELECT r.id, 'reminder', 'reminder', 'n-' || r.test || '-' || g, 'delivered', $2
			FROM recipients r, generate_series(1, 2) g WHERE r.test = $1`, test, id)
		require.NoError(t, err)
		_, err = b.pool.Exec(ctx, `
			INSERT INTO requests (external_id, recipient_id, kind, received_at, ack_due_by, answer_due_by)
			SELECT 'DEM-' || r.test, r.id, 'benefit_claim', $2, $2::timestamptz + interval '1 day', $2::timestamptz + interval '30 days'
			FROM recipients r WHERE r.test = $1`, test, b.now)
		require.NoError(t, err)
	}
	return b, liveCampaign, testCampaign
}

// items lists one field (a dotted path of at most two keys) of a page's items, sorted.
func items(t *testing.T, out map[string]any, key, sub string) []string {
	t.Helper()
	var got []string
	for _, it := range out["items"].([]any) {
		v := it.(map[string]any)[key]
		if sub != "" {
			v = v.(map[string]any)[sub]
		}
		got = append(got, fmt.Sprint(v))
	}
	sort.Strings(got)
	return got
}

// Test keys list and search test rows only; live keys never see them. One
// subtest per endpoint, each with a live key (staff, audit) and a test key.
func TestListsAreSandboxed(t *testing.T) {
	t.Parallel()
	b, liveCampaign, testCampaign := sandboxLists(t)
	keys := []struct {
		key  string
		test string // the value every listed row's test flag must have
	}{{"audit", "false"}, {"staff", "false"}, {"test", "true"}}
	t.Run("GET /v1/recipients", func(t *testing.T) {
		for _, c := range keys {
			for _, q := range []string{"1000001", "dupre"} {
				status, out := b.doJSON(t, "GET", "/v1/recipients?q="+q, c.key, "")
				require.Equal(t, http.StatusOK, status, out)
				require.Equal(t, []string{c.test}, items(t, out, "test", ""), c.key+": q="+q)
			}
		}
	})
	t.Run("GET /v1/notices", func(t *testing.T) {
		for _, c := range keys {
			status, out := b.doJSON(t, "GET", "/v1/notices", c.key, "")
			require.Equal(t, http.StatusOK, status, out)
			require.Equal(t, []string{c.test, c.test}, items(t, out, "test", ""), c.key)
			status, out = b.doJSON(t, "GET", "/v1/notices?recipient=1000001", c.key, "")
			require.Equal(t, http.StatusOK, status, out)
			require.Equal(t, []string{c.test, c.test}, items(t, out, "test", ""), c.key+": notices of 1000001")
			status, out = b.doJSON(t, "GET", fmt.Sprintf("/v1/notices?campaign=%d", liveCampaign), c.key, "")
			require.Equal(t, http.StatusOK, status, out)
			if c.test == "true" {
				require.Empty(t, out["items"], "a test key sees no notice of a live campaign")
			} else {
				require.Len(t, out["items"], 2, c.key)
			}
		}
	})
	t.Run("GET /v1/campaigns", func(t *testing.T) {
		for _, c := range keys {
			status, out := b.doJSON(t, "GET", "/v1/campaigns", c.key, "")
			require.Equal(t, http.StatusOK, status, out)
			require.Equal(t, []string{c.test}, items(t, out, "campaign", "test"), c.key)
		}
	})
	t.Run("GET /v1/campaigns/{id}", func(t *testing.T) {
		for _, c := range keys {
			own, other := liveCampaign, testCampaign
			if c.test == "true" {
				own, other = testCampaign, liveCampaign
			}
			status, out := b.doJSON(t, "GET", fmt.Sprintf("/v1/campaigns/%d", own), c.key, "")
			require.Equal(t, http.StatusOK, status, out)
			require.EqualValues(t, 2, out["progress"].(map[string]any)["notices_created"])
			status, body := b.do(t, "GET", fmt.Sprintf("/v1/campaigns/%d", other), c.key, "")
			require.Equal(t, http.StatusNotFound, status, c.key+": campaign of the other world: "+body)
		}
	})
	t.Run("GET /v1/requests", func(t *testing.T) {
		for _, c := range keys {
			status, out := b.doJSON(t, "GET", "/v1/requests", c.key, "")
			require.Equal(t, http.StatusOK, status, out)
			require.Equal(t, []string{"DEM-" + c.test}, items(t, out, "request_id", ""), c.key)
		}
	})
}
