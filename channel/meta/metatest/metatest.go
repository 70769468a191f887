// Package metatest is what the fakes of Meta's channels (whatsapptest,
// instagramtest) share: signing and posting a webhook delivery and the
// subscription handshake as Meta does them, and answering as the Graph
// API does (its error body, loopback only, a dropped connection). Like
// those fakes it imports no testing package, so `parley simulate` can
// use it.
package metatest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/parleyhq/parley/channel/meta"
)

// Sign returns the X-Hub-Signature-256 header Meta would send for body
// under appSecret: "sha256=" and the lowercase hex HMAC-SHA256.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Deliver POSTs body to url signed with appSecret, as Meta does, and
// returns the status and answer.
func Deliver(ctx context.Context, url, appSecret string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(meta.SignatureHeader, Sign(appSecret, body))
	return do(req)
}

// Handshake makes Meta's subscription request to a webhook URL with
// verifyToken and challenge, and returns the status and answer: 200 and
// the challenge when the token is right.
func Handshake(ctx context.Context, webhookURL, verifyToken, challenge string) (int, []byte, error) {
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {challenge}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, webhookURL+"?"+q.Encode(), nil)
	if err != nil {
		return 0, nil, err
	}
	return do(req)
}

// do sends req and returns the status and the whole answer.
func do(req *http.Request) (int, []byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, answer, nil
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers status with the Graph API error body of e; an empty
// type is OAuthException and an empty trace id a fake one, as Meta always
// sends both.
func WriteError(w http.ResponseWriter, status int, e meta.GraphError) {
	if e.Type == "" {
		e.Type = "OAuthException"
	}
	if e.FBTraceID == "" {
		e.FBTraceID = "AFakeTrace"
	}
	WriteJSON(w, status, meta.ErrorResponse{Error: e})
}

// Loopback reports whether r comes from this machine: the fakes answer
// no one else.
func Loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	return err == nil && net.ParseIP(host).IsLoopback()
}

// Drop closes r's connection without an answer, as a Graph API that went
// away would.
func Drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // the server drops the connection
}

// TB is the part of testing.TB that Fixture uses (this package imports
// no testing package).
type TB interface {
	Helper()
	Fatal(args ...any)
}

// Fixture reads the recorded webhook body dir/name.json (e.g. a channel's
// testdata/webhook), failing t when it cannot.
func Fixture(t TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
