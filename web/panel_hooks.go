package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"gatehouse"
)

// hookPanelRoutes adds the webhook pages of repositories, organizations
// and the site; panelRoutes calls it inside the group that requires a
// session and checks CSRF. The forms call the same backend use cases as
// the API.
func (s *Server) hookPanelRoutes(r chi.Router) {
	for base, place := range map[string]hookPlace{"/repos/{owner}/{name}": repoHooks, "/orgs/{org}": orgHooks, "": siteHooks} {
		r.Get(base+"/hooks", func(w http.ResponseWriter, r *http.Request) {
			s.showHooks(w, r, place, flash(r), "", http.StatusOK)
		})
		r.Post(base+"/hooks", s.hookForm(place, func(r *http.Request, scope gatehouse.WebhookScope, target string) (string, error) {
			h := &gatehouse.Webhook{Scope: scope, Target: target, URL: strings.TrimSpace(r.PostForm.Get("url")),
				Secret: r.PostForm.Get("secret"), Events: r.PostForm["events"], InsecureSkipVerify: r.PostForm.Get("insecure") == "on"}
			if err := s.Backend.CreateWebhook(r.Context(), h); err != nil {
				return "", err
			}
			return "Added webhook " + strconv.FormatInt(h.ID, 10), nil
		}))
		r.Post(base+"/hooks/{id}/remove", s.hookForm(place, func(r *http.Request, _ gatehouse.WebhookScope, _ string) (string, error) {
			h, err := s.placedHook(r, place)
			if err != nil {
				return "", err
			}
			return "Removed webhook " + strconv.FormatInt(h.ID, 10), s.Backend.DeleteWebhook(r.Context(), h.ID)
		}))
		r.Post(base+"/hooks/{id}/redeliver", s.hookForm(place, func(r *http.Request, _ gatehouse.WebhookScope, _ string) (string, error) {
			d, err := s.placedDelivery(r, place, r.PostForm.Get("delivery"))
			if err == nil {
				d, err = s.Backend.Redeliver(r.Context(), d.ID)
			}
			if err != nil {
				return "", err
			}
			return "Queued again as " + d.ID, nil
		}))
	}
}

// hooksData is a webhook page: one place's hooks with their newest
// deliveries.
type hooksData struct {
	Place  string // "alice/r", "acme" or "the site"
	Base   string // the page's path
	Hooks  []hookRow
	Events []string
}

type hookRow struct {
	*gatehouse.Webhook
	Deliveries []*gatehouse.Delivery
}

// hookPageDeliveries is how many deliveries a hook shows on the page.
const hookPageDeliveries = 10

func hooksBase(scope gatehouse.WebhookScope, target string) string {
	switch scope {
	case gatehouse.HookRepo:
		return "/repos/" + target + "/hooks"
	case gatehouse.HookOrg:
		return "/orgs/" + target + "/hooks"
	}
	return "/hooks"
}

func (s *Server) showHooks(w http.ResponseWriter, r *http.Request, place hookPlace, fl, errMsg string, status int) {
	ctx := r.Context()
	scope, target := place(r)
	hs, err := s.Backend.FindWebhooks(ctx, gatehouse.WebhookFilter{Scope: scope, Target: target})
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	d := hooksData{Place: target, Base: hooksBase(scope, target), Events: gatehouse.HookEvents}
	if scope == gatehouse.HookSite {
		d.Place = "the site"
	}
	for _, h := range hs {
		ds, err := s.Backend.FindDeliveries(ctx, h.ID, hookPageDeliveries)
		if err != nil {
			s.panelError(w, r, err)
			return
		}
		d.Hooks = append(d.Hooks, hookRow{h, ds})
	}
	s.render(w, r, "hooks", "Webhooks of "+d.Place, d, fl, errMsg, status)
}

// hookForm runs one webhook form: on success back to the page with the
// message, on refusal the page again with the reason and its status.
func (s *Server) hookForm(place hookPlace, do func(r *http.Request, scope gatehouse.WebhookScope, target string) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scope, target := place(r)
		msg, err := do(r, scope, target)
		if err != nil {
			status, emsg := s.errorStatus(r, err)
			if status == http.StatusNotFound || status == http.StatusForbidden {
				s.panelError(w, r, err)
				return
			}
			s.showHooks(w, r, place, "", emsg, status)
			return
		}
		done(w, r, hooksBase(scope, target), msg)
	}
}
