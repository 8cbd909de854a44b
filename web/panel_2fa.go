package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	qrcode "github.com/skip2/go-qrcode"

	"gatehouse"
	"gatehouse/backend"
)

// The panel's two-factor pages: enrolment (a QR code of the otpauth://
// URI and the secret as text, confirmed by one code; the recovery codes
// shown once), and the code a login link asks enrolled users for.

func (s *Server) stepUpPanelRoutes(r chi.Router) {
	r.Get("/2fa", s.stepUpPage)
	r.Post("/2fa/enroll", s.stepUpEnroll)
	r.Post("/2fa/confirm", s.stepUpConfirm)
}

// stepUpData is the two-factor page's content.
type stepUpData struct {
	Status *gatehouse.StepUpStatus
	Policy gatehouse.StepUpPolicy
	// Enrollment and QR are set while an enrolment waits for its code.
	Enrollment *gatehouse.StepUpEnrollment
	QR         template.HTML
	// RecoveryCodes are set once, on the page that confirmed.
	RecoveryCodes []string
}

func (s *Server) stepUpPage(w http.ResponseWriter, r *http.Request) {
	s.showStepUp(w, r, nil, flash(r), "", http.StatusOK)
}

func (s *Server) showStepUp(w http.ResponseWriter, r *http.Request, recovery []string, fl, errMsg string, status int) {
	ctx := r.Context()
	me := callerFromContext(ctx).User
	st, err := s.Backend.FindStepUpStatus(ctx, me.Name)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	d := stepUpData{Status: st, RecoveryCodes: recovery}
	if d.Policy, err = s.Backend.FindStepUpPolicy(ctx, ""); err != nil {
		s.panelError(w, r, err)
		return
	}
	if st.Pending {
		if d.Enrollment, err = s.Backend.PendingStepUpEnrollment(ctx, me.Name); err != nil {
			s.panelError(w, r, err)
			return
		}
		if d.QR, err = qrSVG(d.Enrollment.URI); err != nil {
			s.panelError(w, r, err)
			return
		}
	}
	s.render(w, r, "twofa", "Two-factor", d, fl, errMsg, status)
}

func (s *Server) stepUpEnroll(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Backend.BeginStepUpEnrollment(r.Context(), callerFromContext(r.Context()).User.Name); err != nil {
		s.panelError(w, r, err)
		return
	}
	http.Redirect(w, r, "/2fa", http.StatusSeeOther)
}

func (s *Server) stepUpConfirm(w http.ResponseWriter, r *http.Request) {
	codes, err := s.Backend.ConfirmStepUpEnrollment(r.Context(), callerFromContext(r.Context()).User.Name, r.PostForm.Get("code"))
	switch {
	case err == nil:
		// Rendered, not redirected: the codes exist only in this answer.
		s.showStepUp(w, r, codes, "Two-factor enrolment confirmed.", "", http.StatusOK)
	case errors.Is(err, gatehouse.ErrInvalid):
		s.showStepUp(w, r, nil, "", "That code is wrong or expired; try the one your app shows now.", http.StatusUnprocessableEntity)
	case errors.Is(err, gatehouse.ErrLimit):
		s.showStepUp(w, r, nil, "", err.Error(), http.StatusTooManyRequests)
	default:
		s.panelError(w, r, err)
	}
}

// loginStepUp is the login's second step for an enrolled user: it asks
// for the code, or refuses a wrong one. ok is true when the login may go
// on (the user is not enrolled, or the code was right).
func (s *Server) loginStepUp(w http.ResponseWriter, r *http.Request, link string) (ok bool) {
	err := s.Backend.LoginStepUp(r.Context(), link, strings.TrimSpace(r.PostForm.Get("code")), r.RemoteAddr)
	switch {
	case err == nil:
		return true
	case errors.Is(err, backend.ErrCodeRequired):
		w.Header().Set("Cache-Control", "no-store")
		s.renderStatus(w, r, http.StatusOK, "login_code", "Two-factor code", link, "")
	case errors.Is(err, gatehouse.ErrInvalid):
		s.renderStatus(w, r, http.StatusUnauthorized, "login_code", "Two-factor code", link, "That code is wrong, used or expired.")
	case errors.Is(err, gatehouse.ErrLimit):
		s.renderStatus(w, r, http.StatusTooManyRequests, "login_code", "Two-factor code", link, err.Error())
	default:
		s.panelError(w, r, err)
	}
	return false
}

// qrSVG draws text as a QR code in inline SVG: the panel's CSP allows
// images from itself only (no data: URIs), and inline SVG is markup, not
// an image fetch. The markup is built from numbers alone.
func qrSVG(text string) (template.HTML, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	bm := q.Bitmap()
	var path strings.Builder
	for y, row := range bm {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	n := len(bm)
	return template.HTML(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="232" height="232" shape-rendering="crispEdges" role="img" aria-label="QR code of the enrolment" id="qr"><rect width="%d" height="%d" fill="#fff"/><path d="%s" fill="#000"/></svg>`,
		n, n, n, n, path.String())), nil
}
