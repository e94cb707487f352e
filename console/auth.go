package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/courrier-dev/courrier/staff"
)

type loginView struct {
	CSRF, Next, Login, Error string
}

func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true,
		Secure: !c.InsecureCookies, SameSite: http.SameSiteStrictMode}
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return Prefix + "/"
	}
	return next
}

// loginForm shows the login form with a fresh login CSRF token (a cookie
// and the same value in the form: no session exists yet).
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	v.CSRF = base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, c.cookie(loginCookie, v.CSRF, 3600))
	c.render(w, r, nil, status, "login", "Connexion", v)
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		c.errorPage(w, r, nil, http.StatusBadRequest, "Formulaire illisible.")
		return
	}
	v := loginView{Next: safeNext(r.PostFormValue("next")), Login: r.PostFormValue("login")}
	ck, err := r.Cookie(loginCookie)
	form := r.PostFormValue("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		v.Error = "Jeton de sécurité (CSRF) absent ou invalide : rechargez la page et recommencez."
		c.showLogin(w, r, http.StatusForbidden, v)
		return
	}
	s, err := staff.Login(r.Context(), c.DB, v.Login, r.PostFormValue("password"), r.PostFormValue("code"), c.now(), c.Policy)
	switch {
	case errors.Is(err, staff.ErrLocked):
		v.Error = "Compte verrouillé après plusieurs échecs : réessayez dans quelques minutes ou contactez un administrateur."
		c.showLogin(w, r, http.StatusTooManyRequests, v)
		return
	case errors.Is(err, staff.ErrInvalidCredentials):
		v.Error = "Identifiant, mot de passe ou code incorrect."
		c.showLogin(w, r, http.StatusUnauthorized, v)
		return
	case err != nil:
		c.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, c.cookie(loginCookie, "", -1))
	http.SetCookie(w, c.cookie(sessionCookie, s.Token, int(c.Policy.WithDefaults().Absolute.Seconds())))
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *staff.Session) {
	if err := staff.Logout(r.Context(), c.DB, s); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}
