package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"gatehouse"
)

// Webhooks, at /repos/OWNER/NAME/hooks, /orgs/ORG/hooks and /hooks (the
// site's), each with the same routes: list and create, one hook, its
// deliveries, one delivery with its payload, and POST
// .../deliveries/ID/attempts to send one again (as GitHub names them). Who may is the backend's call.

// hookPlace says which hooks a request's path is about.
type hookPlace func(r *http.Request) (gatehouse.WebhookScope, string)

func repoHooks(r *http.Request) (gatehouse.WebhookScope, string) {
	return gatehouse.HookRepo, chi.URLParam(r, "owner") + "/" + chi.URLParam(r, "name")
}

func orgHooks(r *http.Request) (gatehouse.WebhookScope, string) {
	return gatehouse.HookOrg, chi.URLParam(r, "org")
}

func siteHooks(*http.Request) (gatehouse.WebhookScope, string) { return gatehouse.HookSite, "" }

// hookRoutes serves the routes under one place's /hooks.
func (s *Server) hookRoutes(place hookPlace) func(chi.Router) {
	return func(r chi.Router) {
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			scope, target := place(r)
			hs, err := s.Backend.FindWebhooks(r.Context(), gatehouse.WebhookFilter{Scope: scope, Target: target})
			s.respond(w, r, http.StatusOK, nonNil(hs), err)
		})
		r.Post("/", func(w http.ResponseWriter, r *http.Request) {
			var in struct {
				URL                string   `json:"url"`
				Secret             string   `json:"secret"`
				Events             []string `json:"events"`
				InsecureSkipVerify bool     `json:"insecure_skip_verify"`
			}
			if err := decode(r, &in); err != nil {
				s.apiError(w, r, err)
				return
			}
			scope, target := place(r)
			h := &gatehouse.Webhook{Scope: scope, Target: target, URL: in.URL, Secret: in.Secret, Events: in.Events, InsecureSkipVerify: in.InsecureSkipVerify}
			err := s.Backend.CreateWebhook(r.Context(), h)
			s.respond(w, r, http.StatusCreated, h, err)
		})
		r.Get("/{id}", func(w http.ResponseWriter, r *http.Request) {
			h, err := s.placedHook(r, place)
			s.respond(w, r, http.StatusOK, h, err)
		})
		r.Delete("/{id}", func(w http.ResponseWriter, r *http.Request) {
			h, err := s.placedHook(r, place)
			if err == nil {
				err = s.Backend.DeleteWebhook(r.Context(), h.ID)
			}
			s.respond(w, r, http.StatusNoContent, nil, err)
		})
		r.Get("/{id}/deliveries", func(w http.ResponseWriter, r *http.Request) {
			h, err := s.placedHook(r, place)
			var ds []*gatehouse.Delivery
			if err == nil {
				ds, err = s.Backend.FindDeliveries(r.Context(), h.ID, 100)
			}
			s.respond(w, r, http.StatusOK, nonNil(ds), err)
		})
		r.Get("/{id}/deliveries/{delivery}", func(w http.ResponseWriter, r *http.Request) {
			d, err := s.placedDelivery(r, place, chi.URLParam(r, "delivery"))
			if err != nil {
				s.apiError(w, r, err)
				return
			}
			// The payload as it was signed and sent, as JSON in the answer.
			s.respond(w, r, http.StatusOK, struct {
				*gatehouse.Delivery
				Payload json.RawMessage `json:"payload"`
			}{d, d.Payload}, nil)
		})
		r.Post("/{id}/deliveries/{delivery}/attempts", func(w http.ResponseWriter, r *http.Request) {
			d, err := s.placedDelivery(r, place, chi.URLParam(r, "delivery"))
			if err == nil {
				d, err = s.Backend.Redeliver(r.Context(), d.ID)
			}
			s.respond(w, r, http.StatusAccepted, d, err)
		})
	}
}

// placedDelivery returns delivery id if it is one of the hook the path
// names.
func (s *Server) placedDelivery(r *http.Request, place hookPlace, id string) (*gatehouse.Delivery, error) {
	h, err := s.placedHook(r, place)
	if err != nil {
		return nil, err
	}
	d, err := s.Backend.FindDelivery(r.Context(), id)
	if err == nil && d.HookID != h.ID {
		err = fmt.Errorf("webhook %d has no delivery %q: %w", h.ID, id, gatehouse.ErrNotFound)
	}
	return d, err
}

// placedHook returns the hook the path's {id} names, if it is one of the
// path's place: a hook elsewhere is not found here.
func (s *Server) placedHook(r *http.Request, place hookPlace) (*gatehouse.Webhook, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("webhook %q: %w", chi.URLParam(r, "id"), gatehouse.ErrNotFound)
	}
	h, err := s.Backend.FindWebhook(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if scope, target := place(r); h.Scope != scope || h.Target != target {
		return nil, fmt.Errorf("webhook %d: %w", id, gatehouse.ErrNotFound)
	}
	return h, nil
}
