package bounce_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/courrier-dev/courrier/channels/bounce"
)

func TestVERP(t *testing.T) {
	t.Parallel()
	v, err := bounce.NewVERP("bounces", "Bounce.Caf.Example", []byte("0123456789abcdef-test"))
	require.NoError(t, err)
	addr := v.Address(12345)
	require.True(t, strings.HasPrefix(addr, "bounces+d12345."), addr)
	require.True(t, strings.HasSuffix(addr, "@bounce.caf.example"), addr)

	id, err := v.Parse("<" + strings.ToUpper(addr) + ">")
	require.NoError(t, err, "MTAs may change case")
	require.EqualValues(t, 12345, id)

	forged := strings.Replace(addr, "d12345", "d12346", 1)
	_, err = v.Parse(forged)
	require.ErrorIs(t, err, bounce.ErrForged)
	_, err = v.Parse("bounces+d12345.aaaaaaaaaaaaa@bounce.caf.example")
	require.ErrorIs(t, err, bounce.ErrForged)
	_, err = v.Parse("someone@bounce.caf.example")
	require.ErrorIs(t, err, bounce.ErrNotVERP)
	_, err = v.Parse(strings.Replace(addr, "bounce.caf", "other", 1))
	require.ErrorIs(t, err, bounce.ErrNotVERP)

	other, err := bounce.NewVERP("bounces", "bounce.caf.example", []byte("another key, 16 bytes+"))
	require.NoError(t, err)
	_, err = other.Parse(addr)
	require.ErrorIs(t, err, bounce.ErrForged, "a tag made with another key")

	_, err = bounce.NewVERP("bounces", "bounce.caf.example", []byte("short"))
	require.ErrorContains(t, err, "COURRIER_BOUNCE_SECRET")
}
