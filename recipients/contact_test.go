package recipients

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		postal  string
		want    string
		mobile  bool
		wantErr string
	}{
		{name: "metropolitan mobile 06", raw: "06 12 34 56 78", postal: "75011", want: "+33612345678", mobile: true},
		{name: "metropolitan mobile 07 with dots", raw: "07.81.23.45.67", postal: "69001", want: "+33781234567", mobile: true},
		{name: "metropolitan mobile without postal code", raw: "0612345678", want: "+33612345678", mobile: true},
		{name: "landline 01 is not an SMS target", raw: "01 23 45 67 89", postal: "75011", want: "+33123456789", mobile: false},
		{name: "+33 form", raw: "+33 6 12 34 56 78", postal: "13001", want: "+33612345678", mobile: true},
		{name: "+33 (0) form", raw: "+33 (0)6 12 34 56 78", postal: "13001", want: "+33612345678", mobile: true},
		{name: "0033 form", raw: "0033612345678", postal: "13001", want: "+33612345678", mobile: true},
		{name: "Guadeloupe mobile", raw: "0690 12 34 56", postal: "97110", want: "+590690123456", mobile: true},
		{name: "Saint-Barthélemy (Guadeloupe postal code)", raw: "0690 12 34 56", postal: "97133", want: "+590690123456", mobile: true},
		{name: "Martinique mobile", raw: "0696 12 34 56", postal: "97200", want: "+596696123456", mobile: true},
		{name: "Guyane mobile", raw: "0694 12 34 56", postal: "97300", want: "+594694123456", mobile: true},
		{name: "Réunion mobile", raw: "0692 12 34 56", postal: "97400", want: "+262692123456", mobile: true},
		{name: "Mayotte mobile", raw: "0639 01 23 45", postal: "97600", want: "+262639012345", mobile: true},
		{name: "Réunion landline", raw: "0262 12 34 56", postal: "97400", want: "+262262123456", mobile: false},
		{name: "overseas number given as +590 is kept", raw: "+590 690 12 34 56", postal: "75011", want: "+590690123456", mobile: true},
		{name: "metropolitan mobile of a beneficiary living in Réunion", raw: "06 12 34 56 78", postal: "97400", want: "+33612345678", mobile: true},
		{name: "Réunion mobile of a beneficiary who moved to Paris", raw: "0692 12 34 56", postal: "75011", want: "+262692123456", mobile: true},
		{name: "foreign number kept", raw: "+32 470 12 34 56", postal: "59000", want: "+32470123456", mobile: true},
		{name: "garbage", raw: "pas de téléphone", postal: "75011", wantErr: `phone: "pas de téléphone" is not a valid phone number for region FR`},
		{name: "too short", raw: "01 23", postal: "75011", wantErr: `phone: "01 23" is not a valid phone number for region FR`},
		{name: "too short overseas", raw: "0690 12", postal: "97110", wantErr: `phone: "0690 12" is not a valid phone number for region GP`},
		{name: "too long", raw: "06 12 34 56 78 90", postal: "75011", wantErr: "is not a valid phone number"},
		{name: "invalid international", raw: "+33 0 00 00 00 00", postal: "75011", wantErr: "is not a valid phone number"},
		{name: "empty", raw: "  ", postal: "75011", wantErr: "phone: is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, mobile, err := NormalizePhone(tt.raw, tt.postal)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				var fe *FieldError
				require.True(t, errors.As(err, &fe))
				require.Equal(t, "phone", fe.Field)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.mobile, mobile)
		})
	}
}

func TestRegionForPostalCode(t *testing.T) {
	t.Parallel()
	for pc, want := range map[string]string{
		"97110": "GP", "97200": "MQ", "97300": "GF", "97400": "RE", "97500": "PM",
		"97600": "YT", "97700": "BL", "97800": "MF", "75011": "FR", "": "FR", "20000": "FR", " 97400 ": "RE",
	} {
		require.Equal(t, want, RegionForPostalCode(pc), pc)
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw     string
		want    string
		wantErr string
	}{
		{raw: "helene.dupre@example.fr", want: "helene.dupre@example.fr"},
		{raw: "  Helene.Dupre@Example.FR ", want: "Helene.Dupre@example.fr"},
		{raw: "h+caf@sub.example.org", want: "h+caf@sub.example.org"},
		{raw: "marie@exemple.économie.fr", want: "marie@exemple.xn--conomie-9xa.fr"},
		{raw: "marie@EXEMPLE.Économie.fr", want: "marie@exemple.xn--conomie-9xa.fr"},
		{raw: "marie@exemple.xn--conomie-9xa.fr", want: "marie@exemple.xn--conomie-9xa.fr"},
		{raw: "", wantErr: "email: is empty"},
		{raw: "helene dupre@example.fr", wantErr: `email: "helene dupre@example.fr" contains spaces`},
		{raw: "helene.example.fr", wantErr: `email: "helene.example.fr" has no @`},
		{raw: "Hélène <helene@example.fr>", wantErr: "contains spaces"},
		{raw: "<helene@example.fr>", wantErr: "is not a valid email address"},
		{raw: "helene@", wantErr: "is not a valid email address"},
		{raw: "@example.fr", wantErr: "is not a valid email address"},
		{raw: "helene@@example.fr", wantErr: "is not a valid email address"},
		{raw: "helene@localhost", wantErr: "has an invalid domain"},
		{raw: "helene@exa_mple.fr", wantErr: "has an invalid domain"},
		{raw: "helene@-example.fr", wantErr: "has an invalid domain"},
		{raw: "helene@[192.168.0.1]", wantErr: "IP address"},
		{raw: "helene@example..fr", wantErr: "email:"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeEmail(tt.raw)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				var fe *FieldError
				require.True(t, errors.As(err, &fe))
				require.Equal(t, "email", fe.Field)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
