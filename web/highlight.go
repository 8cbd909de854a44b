package web

import (
	"html/template"
	"path"
	"strings"
	"time"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
)

// Files are highlighted with chroma's lexers, picked by file name, into
// a few CSS classes (style.css; the Content-Security-Policy allows no
// inline style). The lexers are backtracking regular expressions (about
// 1.5 ms per KiB of Go), so only files up to maxHighlight are
// highlighted, and a file not done within highlightBudget is shown plain
// (chroma bounds each match to 250 ms, so a page waits at most about the
// sum of the two).
const (
	maxHighlight    = 128 << 10
	highlightBudget = 500 * time.Millisecond
)

// tokenClass is the class of a token's kind, "" for plain text.
func tokenClass(t chroma.TokenType) string {
	switch {
	case t.InCategory(chroma.Comment):
		return "hl-c"
	case t.InSubCategory(chroma.LiteralString):
		return "hl-s"
	case t.InSubCategory(chroma.LiteralNumber):
		return "hl-m"
	case t.InCategory(chroma.Keyword):
		return "hl-k"
	case t == chroma.NameFunction || t == chroma.NameClass || t == chroma.NameBuiltin:
		return "hl-n"
	case t.InCategory(chroma.GenericHeading) || t == chroma.GenericSubheading:
		return "hl-k"
	}
	return ""
}

// highlight returns the lines of text, a file named name, as HTML with
// highlighted tokens; nil when no lexer knows the name or text is too
// large (the caller shows it plain). Every token's text is escaped.
func highlight(name, text string) []template.HTML {
	return highlightWith(lexers.Match(path.Base(name)), text)
}

// highlightWith is highlight with the lexer given; nil for none.
func highlightWith(lexer chroma.Lexer, text string) []template.HTML {
	if lexer == nil || len(text) > maxHighlight {
		return nil
	}
	it, err := chroma.Coalesce(lexer).Tokenise(nil, text)
	if err != nil {
		return nil
	}
	var (
		lines []template.HTML
		cur   strings.Builder
		ok    = true
	)
	func() {
		defer func() {
			if recover() != nil { // a lexer's error surfaces as a panic
				ok = false
			}
		}()
		deadline := time.Now().Add(highlightBudget)
		for tok := it(); tok != chroma.EOF; tok = it() {
			if time.Now().After(deadline) {
				ok = false
				return
			}
			class := tokenClass(tok.Type)
			for i, part := range strings.Split(tok.Value, "\n") {
				if i > 0 {
					lines = append(lines, template.HTML(cur.String()))
					cur.Reset()
				}
				if part == "" {
					continue
				}
				if class != "" {
					cur.WriteString(`<span class="` + class + `">`)
				}
				cur.WriteString(template.HTMLEscapeString(part))
				if class != "" {
					cur.WriteString(`</span>`)
				}
			}
		}
	}()
	if !ok {
		return nil
	}
	if cur.Len() > 0 {
		lines = append(lines, template.HTML(cur.String()))
	}
	return lines
}
