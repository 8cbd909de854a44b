package web

import (
	"bytes"
	"html/template"
	"net/url"
	"path"
	"strings"

	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// READMEs are rendered from Markdown with goldmark in its safe mode:
// raw HTML is left out and javascript:, vbscript:, file: and data: links
// (but for images' data:image/png and the like) are dropped, and the
// panel's Content-Security-Policy runs no inline script anyway. Relative
// links and images are resolved in the repository, at the ref shown.

// maxMarkdown bounds the README rendered; a longer one is shown as text.
const maxMarkdown = 512 << 10

// repoLinks rewrites a document's relative link and image destinations
// into the panel's pages of the repository.
type repoLinks struct {
	base string // "/repos/owner/name"
	ref  string
	dir  string // the document's directory
}

func (l repoLinks) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Link:
			n.Destination = []byte(l.resolve(string(n.Destination), "blob"))
		case *ast.Image:
			n.Destination = []byte(l.resolve(string(n.Destination), "raw"))
		}
		return ast.WalkContinue, nil
	})
}

// resolve maps a relative destination to the page showing it: "raw"
// for images, "blob" (or "tree" for a directory, ending in '/') for
// links. Absolute URLs and fragments stay as they are; a path leaving
// the repository goes nowhere.
func (l repoLinks) resolve(dest, page string) string {
	u, err := url.Parse(dest)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "" {
		return dest
	}
	p := u.Path
	if !strings.HasPrefix(p, "/") {
		p = path.Join("/", l.dir, p)
	}
	if page == "blob" && strings.HasSuffix(u.Path, "/") {
		page = "tree"
	}
	p = strings.Trim(path.Clean(p), "/")
	q := url.Values{"ref": {l.ref}}
	if p != "" {
		q.Set("path", p)
	} else {
		page = "tree"
	}
	out := l.base + "/" + page + "?" + q.Encode()
	if u.Fragment != "" {
		out += "#" + url.PathEscape(u.Fragment)
	}
	return out
}

// codeBlocks renders fenced code blocks, highlighted when they name a
// language chroma knows.
type codeBlocks struct{}

func (codeBlocks) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, renderCodeBlock)
}

func renderCodeBlock(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	b := n.(*ast.FencedCodeBlock)
	var code strings.Builder
	for i := 0; i < b.Lines().Len(); i++ {
		seg := b.Lines().At(i)
		code.Write(seg.Value(src))
	}
	var lines []template.HTML
	if lang := b.Language(src); len(lang) > 0 {
		lines = highlightWith(lexers.Get(string(lang)), code.String())
	}
	w.WriteString("<pre><code>")
	if lines == nil {
		w.WriteString(template.HTMLEscapeString(code.String()))
	}
	for i, line := range lines {
		if i > 0 {
			w.WriteByte('\n')
		}
		w.WriteString(string(line))
	}
	w.WriteString("</code></pre>\n")
	return ast.WalkContinue, nil
}

// renderMarkdown renders src, a file at ref in the repository whose pages
// are under base, to safe HTML.
func renderMarkdown(src []byte, base, ref, file string) (template.HTML, error) {
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(codeBlocks{}, 100))),
		goldmark.WithParserOptions(parser.WithAutoHeadingID(),
			parser.WithASTTransformers(util.Prioritized(repoLinks{base: base, ref: ref, dir: path.Dir(file)}, 1000))),
	)
	var buf bytes.Buffer
	if err := md.Convert(src, &buf); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil // #nosec: goldmark's safe mode escaped it
}
