package web

import (
	"errors"
	"net/http"

	"gatehouse"
	"gatehouse/backend"
)

// Errors of the HTTP layer itself; the rest come from the services as
// root sentinels.
var (
	errUnauthorized = errors.New("authentication required")
	errBadRequest   = errors.New("bad request")
)

// statusCodes is the one table from errors to HTTP status. ErrInvalid is
// 422: the request was well-formed but the service refused its content;
// 400 is for requests we could not even read.
var statusCodes = []struct {
	err    error
	status int
}{
	{errBadRequest, http.StatusBadRequest},
	{errUnauthorized, http.StatusUnauthorized},
	{gatehouse.ErrForbidden, http.StatusForbidden},
	{gatehouse.ErrNotFound, http.StatusNotFound},
	{gatehouse.ErrConflict, http.StatusConflict},
	{gatehouse.ErrInvalid, http.StatusUnprocessableEntity},
	{gatehouse.ErrLimit, http.StatusTooManyRequests},
	{backend.ErrUnavailable, http.StatusNotImplemented},
}

// errorStatus returns the status for err and the message safe to show.
// Errors outside the table are internal: the client gets a generic
// message, the log the detail.
func (s *Server) errorStatus(r *http.Request, err error) (int, string) {
	for _, e := range statusCodes {
		if errors.Is(err, e.err) {
			return e.status, err.Error()
		}
	}
	s.Logger.Error("request failed", logMethod, r.Method, logPath, r.URL.Path, logErr, err)
	return http.StatusInternalServerError, "internal error"
}
