package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"gatehouse"
	"gatehouse/backend"
)

// Read-only code browsing: a repository's tree at a ref, its files and
// its commits, for whoever may read it (the backend decides; others get
// the same 404 as for a missing repository). Refs and paths come in the
// query string, so a branch name with slashes is never mistaken for a
// path.

// repoLogLen is how many commits the repository page lists.
const repoLogLen = 20

var browseFuncs = template.FuncMap{
	"short":  gatehouse.ShortID,
	"ago":    ago,
	"crumbs": crumbs,
	"inc":    func(i int) int { return i + 1 },
	"diffclass": func(line string) string {
		switch {
		case strings.HasPrefix(line, "+"):
			return "add"
		case strings.HasPrefix(line, "-"):
			return "del"
		case strings.HasPrefix(line, "@"):
			return "hunk"
		}
		return ""
	},
	"pushref": func(detail string) gatehouse.RefUpdate {
		u, _ := gatehouse.ParsePushDetail(detail)
		return u
	},
}

// ago says how long ago t was, the way people say it.
func ago(t time.Time) string {
	d := time.Since(t)
	unit := func(n int, what string) string {
		if n == 1 {
			return "1 " + what + " ago"
		}
		return strconv.Itoa(n) + " " + what + "s ago"
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return unit(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return unit(int(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		return unit(int(d/(24*time.Hour)), "day")
	case d < 365*24*time.Hour:
		return unit(int(d/(30*24*time.Hour)), "month")
	}
	return unit(int(d/(365*24*time.Hour)), "year")
}

// crumb is one directory of a path, for the breadcrumb links.
type crumb struct{ Name, Path string }

func crumbs(p string) []crumb {
	var out []crumb
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	for i, n := range parts {
		out = append(out, crumb{n, strings.Join(parts[:i+1], "/")})
	}
	return out
}

func (s *Server) browsePanelRoutes(r chi.Router) {
	r.Get("/repos/{owner}/{name}/tree", s.treePage)
	r.Get("/repos/{owner}/{name}/blob", s.blobPage)
	r.Get("/repos/{owner}/{name}/raw", s.rawFile)
	r.Get("/repos/{owner}/{name}/commit", s.commitPage)
}

// browseQuery reads ref and path, ref defaulting to the default branch.
func browseQuery(r *http.Request, repo *gatehouse.Repo) (string, string) {
	q := r.URL.Query()
	ref := q.Get("ref")
	if ref == "" {
		ref = repo.DefaultBranch
	}
	return ref, strings.Trim(q.Get("path"), "/")
}

type browseData struct {
	Repo *gatehouse.Repo
	Ref  string
	Tree *gatehouse.TreeListing
	File *gatehouse.FileView
	// Lines is the file's text, one line each; Highlighted the same
	// lines highlighted, when a lexer knows the file.
	Lines       []string
	Highlighted []template.HTML
	// Image: the file is shown as an image from its raw address.
	Image  bool
	Commit *gatehouse.CommitDetail
}

func (s *Server) browseRepo(w http.ResponseWriter, r *http.Request) (*backend.RepoView, *gatehouse.Repo, bool) {
	v, err := s.Backend.BrowseRepo(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"))
	if err != nil {
		s.panelError(w, r, err)
		return nil, nil, false
	}
	return v, v.Repo, true
}

func (s *Server) treePage(w http.ResponseWriter, r *http.Request) {
	v, repo, ok := s.browseRepo(w, r)
	if !ok {
		return
	}
	ref, p := browseQuery(r, repo)
	t, err := v.Tree(r.Context(), ref, p)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	s.render(w, r, "tree", repo.FullName(), browseData{Repo: repo, Ref: ref, Tree: t}, "", "", http.StatusOK)
}

// imageTypes are the file types shown inline as images; SVG is not one,
// since it can carry script.
var imageTypes = map[string]string{".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}

func (s *Server) blobPage(w http.ResponseWriter, r *http.Request) {
	v, repo, ok := s.browseRepo(w, r)
	if !ok {
		return
	}
	ref, p := browseQuery(r, repo)
	f, err := v.File(r.Context(), ref, p)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	d := browseData{Repo: repo, Ref: ref, File: f, Image: imageTypes[strings.ToLower(path.Ext(p))] != ""}
	if f.Content != nil && !d.Image {
		text := strings.ToValidUTF8(string(f.Content), "\uFFFD")
		d.Lines = strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if hl := highlight(p, text); len(hl) == len(d.Lines) {
			d.Highlighted = hl
		}
	}
	s.render(w, r, "blob", repo.FullName(), d, "", "", http.StatusOK)
}

// rawFile sends a file as it is stored: images as themselves, anything
// else as a download, never as a page of this site.
func (s *Server) rawFile(w http.ResponseWriter, r *http.Request) {
	v, repo, ok := s.browseRepo(w, r)
	if !ok {
		return
	}
	ref, p := browseQuery(r, repo)
	size, rc, err := v.Raw(r.Context(), ref, p)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if typ := imageTypes[strings.ToLower(path.Ext(p))]; typ != "" {
		h.Set("Content-Type", typ)
	} else {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	}
	if _, err := io.Copy(w, rc); err != nil {
		s.Logger.Warn("raw file", "repo", repo.FullName(), "path", p, logErr, err)
	}
}

func (s *Server) commitPage(w http.ResponseWriter, r *http.Request) {
	v, repo, ok := s.browseRepo(w, r)
	if !ok {
		return
	}
	ref, _ := browseQuery(r, repo)
	c, err := v.Commit(r.Context(), ref)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	s.render(w, r, "commit", fmt.Sprintf("%s · %s", repo.FullName(), c.Short()), browseData{Repo: repo, Ref: ref, Commit: c}, "", "", http.StatusOK)
}

// repoCode is what the repository page shows of its contents.
type repoCode struct {
	*gatehouse.RepoOverview
	// Readme is the README rendered from Markdown, or ReadmeText the
	// README in any other form.
	Readme     template.HTML
	ReadmeText string
}

// repoCode reads the repository page's refs, log and README, or nil.
func (s *Server) repoCode(r *http.Request, repo *gatehouse.Repo) *repoCode {
	ctx := r.Context()
	v, err := s.Backend.BrowseRepo(ctx, repo.Owner, repo.Name)
	if errors.Is(err, backend.ErrUnavailable) {
		return nil
	}
	var o *gatehouse.RepoOverview
	if err == nil {
		o, err = v.Overview(ctx, repoLogLen)
	}
	if err != nil {
		s.Logger.Warn("repository overview", "repo", repo.FullName(), logErr, err)
		return nil
	}
	c := &repoCode{RepoOverview: o}
	if o.Readme == "" {
		return c
	}
	f, err := v.File(ctx, o.Head, o.Readme)
	if err != nil || f.Content == nil {
		if err != nil {
			s.Logger.Warn("README", "repo", repo.FullName(), logErr, err)
		}
		return c
	}
	ext := strings.ToLower(path.Ext(o.Readme))
	if (ext == ".md" || ext == ".markdown") && len(f.Content) <= maxMarkdown {
		if c.Readme, err = renderMarkdown(f.Content, "/repos/"+repo.FullName(), o.Head, o.Readme); err == nil {
			return c
		}
		s.Logger.Warn("README", "repo", repo.FullName(), logErr, err)
	}
	c.ReadmeText = strings.ToValidUTF8(string(f.Content), "\uFFFD")
	return c
}
