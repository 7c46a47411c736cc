package aaf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrLimit marks input refused because it exceeds a ParseOptions limit or
// uses a construct the parser never accepts (DTD internal subset, entity
// declarations). Hostile files end with an error wrapping it.
var ErrLimit = errors.New("input limit exceeded")

// guardReader sits between the raw bytes and encoding/xml. encoding/xml
// buffers a whole token (a text run, a tag, a comment, a CDATA section, a
// directive) before returning it, so a 100 MB value would be held in memory
// before the parser could look at it. The guard follows the lexical
// structure with a tiny state machine and fails as soon as one run exceeds
// maxRun bytes, or a DOCTYPE opens an internal subset ("[", where entity
// declarations — billion laughs, SYSTEM "file:///etc/passwd" — would live).
// encoding/xml never fetches external entities nor expands DTD-declared
// ones; the guard refuses them explicitly so the reason is precise.
type guardReader struct {
	r      io.Reader
	maxRun int
	state  guardState
	run    int
	line   int
	quote  byte   // inside a quoted attribute value or DOCTYPE literal
	look   []byte // bytes after "<!" until the construct is identified
	tail   [2]byte
	err    error
}

type guardState uint8

const (
	gText guardState = iota
	gLT              // just read '<'
	gBang            // read "<!", identifying comment / CDATA / declaration
	gTag
	gComment
	gCDATA
	gPI
	gDecl
)

func newGuard(r io.Reader, maxRun int) *guardReader {
	return &guardReader{r: r, maxRun: maxRun, line: 1}
}

func (g *guardReader) fail(format string, args ...any) error {
	g.err = fmt.Errorf("line %d: "+format+": %w", append([]any{g.line}, append(args, ErrLimit)...)...)
	return g.err
}

func (g *guardReader) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; i++ {
		if g.state == gText {
			// Fast path over character data: jump to the next '<'.
			j := bytes.IndexByte(p[i:n], '<')
			if j < 0 {
				j = n - i
			}
			if g.run+j > g.maxRun {
				j = g.maxRun - g.run + 1 // let step() report it at the exact byte
			}
			if j > 0 {
				g.line += bytes.Count(p[i:i+j-1], []byte{'\n'})
				g.run += j - 1
				i += j - 1
			}
		}
		if e := g.step(p[i]); e != nil {
			// Hand over the bytes before the offending one; the error comes next call.
			return i, nil
		}
	}
	return n, err
}

func (g *guardReader) step(c byte) error {
	if c == '\n' {
		g.line++
	}
	g.run++
	if g.run > g.maxRun {
		what := map[guardState]string{gText: "text", gTag: "tag", gComment: "comment", gCDATA: "CDATA section", gPI: "processing instruction", gDecl: "declaration", gBang: "declaration", gLT: "tag"}[g.state]
		return g.fail("a %s longer than %d bytes (a value, tag or comment this large is refused)", what, g.maxRun)
	}
	switch g.state {
	case gText:
		if c == '<' {
			g.state, g.run = gLT, 1
		}
	case gLT:
		switch c {
		case '!':
			g.state, g.look = gBang, g.look[:0]
		case '?':
			g.state = gPI
		default:
			g.state = gTag
			if c == '>' {
				g.state, g.run = gText, 0
			}
		}
	case gBang:
		g.look = append(g.look, c)
		s := string(g.look)
		switch {
		case s == "--":
			g.state, g.tail = gComment, [2]byte{}
		case s == "[CDATA[":
			g.state, g.tail = gCDATA, [2]byte{}
		case len(s) == 7 && s == "DOCTYPE":
			g.state, g.quote = gDecl, 0
		case len(s) >= 7 || !(isPrefix(s, "--") || isPrefix(s, "[CDATA[") || isPrefix(s, "DOCTYPE")):
			return g.fail("markup declaration <!%s… refused (only DOCTYPE, comments and CDATA are allowed; ENTITY, ELEMENT, ATTLIST are never expanded)", s)
		}
	case gTag:
		switch {
		case g.quote != 0:
			if c == g.quote {
				g.quote = 0
			}
		case c == '"' || c == '\'':
			g.quote = c
		case c == '>':
			g.state, g.run = gText, 0
		}
	case gComment:
		if c == '>' && g.tail == [2]byte{'-', '-'} {
			g.state, g.run = gText, 0
		}
		g.tail = [2]byte{g.tail[1], c}
	case gCDATA:
		if c == '>' && g.tail == [2]byte{']', ']'} {
			g.state, g.run = gText, 0
		}
		g.tail = [2]byte{g.tail[1], c}
	case gPI:
		if c == '>' && g.tail[1] == '?' {
			g.state, g.run = gText, 0
		}
		g.tail = [2]byte{g.tail[1], c}
	case gDecl:
		switch {
		case g.quote != 0:
			if c == g.quote {
				g.quote = 0
			}
		case c == '"' || c == '\'':
			g.quote = c
		case c == '[':
			return g.fail("DOCTYPE with an internal subset refused (entity declarations are never expanded; AAF files only reference ficAlimMENESR.dtd)")
		case c == '>':
			g.state, g.run = gText, 0
		}
	}
	return nil
}

func isPrefix(s, of string) bool { return len(s) <= len(of) && of[:len(s)] == s }
