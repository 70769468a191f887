package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// views holds one template set per page file: the shared layout and
// partials (layout.html) plus the file's own "title" and "content".
type views struct {
	byName map[string]*template.Template
}

// funcs are the template helpers. None returns template.HTML: everything a
// template prints is escaped by html/template.
var funcs = template.FuncMap{
	"at": func(loc *time.Location, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format("2 Jan 2006 15:04")
	},
	"atp": func(loc *time.Location, t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(loc).Format("2 Jan 2006 15:04")
	},
	"short": func(n int, s string) string {
		s = strings.Join(strings.Fields(s), " ")
		if utf8.RuneCountInString(s) <= n {
			return s
		}
		return string([]rune(s)[:n]) + "…"
	},
	"row": func(item any, csrf string, loc *time.Location) rowData {
		return rowData{Item: item, CSRF: csrf, Loc: loc}
	},
	"field": func(f *Form, name, label, hint, list string) fieldData {
		return fieldData{Name: name, Label: label, Hint: hint, List: list, Value: f.Values[name], Error: f.Errors[name]}
	},
	"percent": func(share float64) string {
		return strconv.FormatFloat(100*share, 'f', 0, 64) + "%"
	},
	"list":       func(v ...string) []string { return v },
	"upperFirst": upperFirst,
	"outcomeLabel": func(o string) string {
		if o == "opted_out" {
			return "Opted out"
		}
		return upperFirst(o)
	},
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	},
}

func loadViews() (*views, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	v := &views{byName: map[string]*template.Template{}}
	for _, name := range names {
		if path.Base(name) == "layout.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, name)
		if err != nil {
			return nil, err
		}
		v.byName[strings.TrimSuffix(path.Base(name), ".html")] = t
	}
	return v, nil
}

// viewData is what every page template gets; Data is the page's own.
type viewData struct {
	Title  string
	Nav    []navItem
	Active string
	S      *Session
	CSRF   string
	Loc    *time.Location
	Data   any
}

// fieldData is one form field for a shared field template.
type fieldData struct {
	Name, Label, Hint, List string
	Value, Error            string
}

// rowData is what a list row template gets, so the same template serves
// the whole list and an htmx swap of one row.
type rowData struct {
	Item any
	CSRF string
	Loc  *time.Location
}

// render writes a whole page (the layout around the view's content).
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, s *Session, status int, view string, data any) error {
	return d.exec(w, status, view, "layout", d.viewData(r, s, data))
}

// fragment writes one row template of a view, for htmx swaps.
func (d *Dashboard) fragment(w http.ResponseWriter, r *http.Request, s *Session, view, name string, item any) error {
	vd := d.viewData(r, s, nil)
	return d.exec(w, http.StatusOK, view, name, rowData{Item: item, CSRF: vd.CSRF, Loc: vd.Loc})
}

func (d *Dashboard) viewData(r *http.Request, s *Session, data any) viewData {
	vd := viewData{S: s, Loc: time.UTC, Data: data, Active: d.active(r.URL.Path)}
	if s != nil {
		vd.CSRF = s.CSRFToken
		for _, n := range d.nav {
			if !n.Admin || s.IsAdmin() {
				vd.Nav = append(vd.Nav, n)
			}
		}
		if loc, err := time.LoadLocation(s.Tenant.TimeZone); err == nil {
			vd.Loc = loc
		}
	}
	return vd
}

func (d *Dashboard) exec(w http.ResponseWriter, status int, view, name string, vd any) error {
	t, ok := d.views.byName[view]
	if !ok {
		return fmt.Errorf("no view %q", view)
	}
	// Render to a buffer first so a template error never leaves half a page.
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, vd); err != nil {
		return fmt.Errorf("render %s/%s: %w", view, name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// active is the navigation entry a path belongs to.
func (d *Dashboard) active(p string) string {
	best := "/"
	for _, n := range d.nav {
		if n.Path != "/" && strings.HasPrefix(p, n.Path) && len(n.Path) > len(best) {
			best = n.Path
		}
	}
	return best
}

type errorData struct{ Heading, Message string }

func (d *Dashboard) errorPage(w http.ResponseWriter, r *http.Request, s *Session, status int, heading, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if isHTMX(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		w.Write([]byte(heading + ": " + msg))
		return
	}
	if err := d.render(w, r, s, status, "error", errorData{Heading: heading, Message: msg}); err != nil {
		d.log.ErrorContext(r.Context(), "render error page", "err", err)
		http.Error(w, heading, status)
	}
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// Pager links a keyset-paginated list to its next page and back to its first.
type Pager struct {
	Next  string // URL of the next page, "" on the last
	First string // URL of the first page, "" when on it
}

// pager builds the links for a list whose cursor travels in param,
// keeping the request's other query parameters (its filters).
func pager(r *http.Request, param, next string) Pager {
	var p Pager
	q := r.URL.Query()
	if q.Get(param) != "" {
		q.Del(param)
		p.First = r.URL.Path + encodeQuery(q)
	}
	if next != "" {
		q.Set(param, next)
		p.Next = r.URL.Path + encodeQuery(q)
	}
	return p
}

func encodeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
