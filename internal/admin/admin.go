// Package admin is the node's browser admin panel. It is served by the
// control server on the control listener (same loopback address, same
// token) under /admin/, and the page drives the node through the same JSON
// API under /api/v1/ as the CLI: one API.
//
// Authentication: a request carries either the bearer token (the CLI,
// scripts) or a session cookie. A browser gets the cookie by opening the
// one-time login link /admin/login?token=TOKEN (see LoginURL and `orbital
// admin url`): the token is compared in constant time, a random session id
// (never the token) is set as an HttpOnly, SameSite=Strict cookie, and the
// browser is redirected to /admin/ so the token leaves the URL bar.
// Sessions expire after SessionTTL.
//
// CSRF: a state-changing request (anything but GET, HEAD and OPTIONS)
// authenticated by cookie must carry the session's CSRF token in the
// X-CSRF-Token header (the page gets it embedded in its HTML) and come from
// the same origin (Origin and/or Sec-Fetch-Site); otherwise it is refused
// with 403. Bearer requests need neither. Tokens, session ids and CSRF
// tokens are never logged.
//
// Live updates: GET /api/v1/events is a Server-Sent Events stream (see
// Admin.Events).
package admin

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/orbitalfoundation/orbital/api"
	"github.com/orbitalfoundation/orbital/internal/control"
)

// Paths and names of the panel.
const (
	// Prefix is where the panel is mounted.
	Prefix = "/admin/"
	// LoginPath takes ?token= and turns it into a session cookie.
	LoginPath = "/admin/login"
	// EventsPath is the Server-Sent Events stream.
	EventsPath = "/api/v1/events"
	// CookieName is the session cookie's name.
	CookieName = "orbital_session"
	// CSRFHeader carries the session's CSRF token on state-changing requests.
	CSRFHeader = "X-CSRF-Token"
	// SessionTTL is how long a session lives after login.
	SessionTTL = 12 * time.Hour
	// MaxSessions bounds the session table; the oldest session goes first.
	MaxSessions = 64
)

// Source is what the panel reads from the node for its live views.
type Source interface {
	Processes() []api.ProcessInfo
	BusStats() api.BusStats
	Subscribe(ctx context.Context, pattern string, fn func(api.BusMessage) error) error
	Health() api.NodeHealth
}

// Site is the whole control listener of a node: the panel, its event
// stream and the control API (b), every request authenticated by Guard
// with token. Close the returned function when the listener shuts down:
// it ends the open streams.
func Site(token string, b control.Backends) (http.Handler, func()) {
	cAPI := control.NewAPI(b)
	a := New(token, source{b})
	mux := http.NewServeMux()
	a.Mount(mux)
	mux.Handle("/", cAPI)
	return a.Guard(mux), func() { a.Close(); cAPI.Close() }
}

// Serve serves Site on srv: the node's control listener with the panel
// and the control API behind Guard, authenticated with srv's token.
func Serve(srv *control.Server, b control.Backends) {
	h, closeSite := Site(srv.Token(), b)
	srv.Serve(h, closeSite)
}

// source is the panel's view of the control backends.
type source struct{ b control.Backends }

func (s source) Processes() []api.ProcessInfo { return s.b.Processes.Processes() }
func (s source) BusStats() api.BusStats       { return s.b.Bus.BusStats() }
func (s source) Health() api.NodeHealth       { return s.b.Node.Health() }
func (s source) Subscribe(ctx context.Context, pattern string, fn func(api.BusMessage) error) error {
	return s.b.Bus.Subscribe(ctx, pattern, fn)
}

//go:embed ui/index.html ui/static
var uiFS embed.FS

// indexHTML is the page; {{.CSRF}} in it is replaced by the session's
// token, HTML-escaped. (One substitution: html/template would add half a
// megabyte to the device binary.)
var indexHTML = func() []byte {
	b, err := uiFS.ReadFile("ui/index.html")
	if err != nil || !bytes.Contains(b, []byte(csrfMark)) {
		panic("admin: ui/index.html has no " + csrfMark)
	}
	return b
}()

const csrfMark = "{{.CSRF}}"

// Admin serves the panel and authenticates requests for the whole control
// listener (see Guard).
type Admin struct {
	token    []byte
	src      Source
	interval time.Duration // how often Events checks for changes
	now      func() time.Time

	mu       sync.Mutex
	sessions map[string]*session

	ctx    context.Context // ends at Close: ends the event streams
	cancel context.CancelFunc
}

type session struct {
	csrf    string
	created time.Time
	expires time.Time
}

// New returns the panel for a node whose control token is token.
func New(token string, src Source) *Admin {
	ctx, cancel := context.WithCancel(context.Background())
	return &Admin{
		token: []byte(token), src: src, interval: 500 * time.Millisecond, now: time.Now,
		sessions: map[string]*session{}, ctx: ctx, cancel: cancel,
	}
}

// Close ends the open event streams, so an http.Server shutting down need
// not wait for them (register it with http.Server.RegisterOnShutdown).
func (a *Admin) Close() { a.cancel() }

// URL is the panel's address on a control listener at addr.
func URL(addr string) string { return "http://" + addr + Prefix }

// LoginURL is the one-time login link for a control listener at addr.
func LoginURL(addr, token string) string {
	return "http://" + addr + LoginPath + "?token=" + url.QueryEscape(token)
}

// Mount registers the panel's routes and the event stream on mux. Wrap
// the mux with Guard.
func (a *Admin) Mount(mux *http.ServeMux) {
	static, _ := fs.Sub(uiFS, "ui")
	files := http.StripPrefix(Prefix, http.FileServerFS(static))
	mux.Handle("GET /admin/static/", noDirs(&staticFiles{files: files}))
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /admin/{$}", a.index)
	mux.HandleFunc("GET "+LoginPath, a.login)
	mux.HandleFunc("POST /admin/logout", a.logout)
	mux.Handle("GET "+EventsPath, a.Events())
}

// staticFiles serves the embedded assets, gzip-compressed to browsers that
// accept it (compressed once, at first use: a fifth of the bytes over a
// slow link to a small device).
type staticFiles struct {
	files http.Handler
	once  sync.Once
	gz    map[string][]byte // "static/app.js" → its gzip bytes
}

func (s *staticFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Vary", "Accept-Encoding")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		s.once.Do(s.compress)
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if gz, ok := s.gz[name]; ok {
			h := w.Header()
			h.Set("Content-Encoding", "gzip")
			h.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(gz))
			return
		}
	}
	s.files.ServeHTTP(w, r)
}

func (s *staticFiles) compress() {
	s.gz = map[string][]byte{}
	_ = fs.WalkDir(uiFS, "ui/static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(uiFS, p)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(data)
		_ = zw.Close()
		s.gz[strings.TrimPrefix(p, "ui/")] = b.Bytes()
		return nil
	})
}

// noDirs refuses directory listings of the static files.
func noDirs(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// sessionFrom returns the session a request was authenticated with (nil for
// bearer requests).
func sessionFrom(r *http.Request) *session {
	s, _ := r.Context().Value(ctxKey{}).(*session)
	return s
}

// Guard authenticates every request but GET /healthz, the login link and
// the static assets (no secrets in them; the login page needs its CSS):
// by bearer token or by session cookie, the latter with the CSRF checks on
// state-changing methods. It replaces the control server's bearer-only
// check.
func (a *Admin) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		if r.URL.Path == "/healthz" || r.URL.Path == LoginPath ||
			(safeMethod(r.Method) && strings.HasPrefix(r.URL.Path, "/admin/static/")) {
			next.ServeHTTP(w, r)
			return
		}
		if h := r.Header.Get("Authorization"); h != "" {
			// The scheme is case-insensitive (RFC 9110 §11.1).
			bearer := len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ")
			if !bearer || !a.tokenOK(h[len("Bearer "):]) {
				unauthorized(w, r)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		s := a.lookup(r)
		if s == nil {
			unauthorized(w, r)
			return
		}
		if !safeMethod(r.Method) {
			if !a.csrfOK(s, r.Header.Get(CSRFHeader)) || !sameOrigin(r) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"error":"cross-site request refused: missing or wrong CSRF token or origin","class":"permission_denied"}` + "\n"))
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
}

func setSecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether a browser says the request comes from the
// page's own origin. At least one of Origin and Sec-Fetch-Site must be
// present, and every one present must agree.
func sameOrigin(r *http.Request) bool {
	seen := false
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host != r.Host {
			return false
		}
		seen = true
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		if s != "same-origin" {
			return false
		}
		seen = true
	}
	return seen
}

// unauthorized answers 401: a short HTML page pointing at `orbital admin
// url` for the panel, the control API's JSON error elsewhere.
func unauthorized(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, Prefix) {
		loginNeeded(w, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"missing or wrong token"}` + "\n"))
}

func loginNeeded(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	msg := "Open the login link printed by <code>orbital admin url</code> on the node's machine."
	if why != "" {
		msg = html.EscapeString(why) + " " + msg
	}
	fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>Orbital admin: log in</title>
<link rel="stylesheet" href="/admin/static/app.css"><main class="login" id="login-needed"><h1>Orbital</h1><p>%s</p></main>`, msg)
}

func (a *Admin) tokenOK(got string) bool {
	return len(a.token) > 0 && subtle.ConstantTimeCompare([]byte(got), a.token) == 1
}

func (a *Admin) csrfOK(s *session, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// lookup returns the live session named by the request's cookie, or nil.
func (a *Admin) lookup(r *http.Request) *session {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s == nil {
		return nil
	}
	if !a.now().Before(s.expires) {
		delete(a.sessions, c.Value)
		return nil
	}
	return s
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("admin: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// newSession creates a session and returns its id.
func (a *Admin) newSession() (string, error) {
	id, err := randomHex(32)
	if err != nil {
		return "", err
	}
	csrf, err := randomHex(32)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var oldest string
	for k, s := range a.sessions {
		if !now.Before(s.expires) {
			delete(a.sessions, k)
		} else if oldest == "" || s.created.Before(a.sessions[oldest].created) {
			oldest = k
		}
	}
	if len(a.sessions) >= MaxSessions {
		delete(a.sessions, oldest)
	}
	a.sessions[id] = &session{csrf: csrf, created: now, expires: now.Add(SessionTTL)}
	return id, nil
}

// login turns ?token= into a session cookie and redirects to the panel.
func (a *Admin) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok := r.URL.Query().Get("token")
	if tok == "" && a.lookup(r) != nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	if !a.tokenOK(tok) {
		loginNeeded(w, "Missing or wrong token.")
		return
	}
	id, err := a.newSession()
	if err != nil {
		http.Error(w, "cannot create a session", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(SessionTTL / time.Second),
	})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// logout ends the cookie's session (Guard has checked the CSRF token).
func (a *Admin) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":"logged out"}` + "\n"))
}

// index serves the page with the session's CSRF token embedded.
func (a *Admin) index(w http.ResponseWriter, r *http.Request) {
	var csrf string
	if s := sessionFrom(r); s != nil {
		csrf = s.csrf
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	_, _ = w.Write(bytes.Replace(indexHTML, []byte(csrfMark), []byte(html.EscapeString(csrf)), 1))
}
