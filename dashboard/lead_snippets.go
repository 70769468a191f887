package dashboard

import (
	"encoding/json"
	"strconv"
	"strings"
)

// snippet is the lead tester's request written as code to copy. The API
// key is never in it: each reads PARLEY_API_KEY from the environment, the
// one thing the reader must fill in.
type snippet struct {
	ID, Label, Code string
}

func snippets(url, body string) []snippet {
	return []snippet{
		{"curl", "curl", curlSnippet(url, body)},
		{"js", "JavaScript (fetch)", jsSnippet(url, body)},
		{"go", "Go", goSnippet(url, body)},
	}
}

// curlSnippet sends the body through a quoted here-document, so nothing in
// it is read by the shell.
func curlSnippet(url, body string) string {
	return `# Set PARLEY_API_KEY to your API key first (Settings › API keys).
curl -sS -X POST ` + shellQuote(url) + ` \
  -H "Authorization: Bearer $PARLEY_API_KEY" \
  -H 'Content-Type: application/json' \
  --data-binary @- <<'JSON'
` + body + `
JSON`
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// jsSnippet is for Node 18+ (fetch is built in); a key belongs on a
// server, never in a page's script.
func jsSnippet(url, body string) string {
	u, _ := json.Marshal(url)
	return `// Node 18+. Set PARLEY_API_KEY to your API key first (Settings › API keys).
const res = await fetch(` + string(u) + `, {
  method: "POST",
  headers: {
    "Authorization": "Bearer " + process.env.PARLEY_API_KEY,
    "Content-Type": "application/json",
  },
  body: JSON.stringify(` + indent(body, "  ") + `),
});
console.log(res.status, JSON.stringify(await res.json(), null, 2));`
}

func goSnippet(url, body string) string {
	lit := "`" + body + "`"
	if strings.Contains(body, "`") {
		lit = strconv.Quote(body)
	}
	return `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// Set PARLEY_API_KEY to your API key first (Settings › API keys).
func main() {
	body := strings.NewReader(` + lit + `)
	req, err := http.NewRequest(http.MethodPost, ` + strconv.Quote(url) + `, body)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+os.Getenv("PARLEY_API_KEY"))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(res.Body)
	fmt.Println(res.Status, string(answer))
}`
}

// indent prefixes every line but the first.
func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}
