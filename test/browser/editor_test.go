package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestEditorTwoNodesTypeConcurrently opens the editor of one text key on
// two nodes. Alice types at the start of the line, Bob at its end, both at
// once, one key at a time. Both pages must end with Alice's words, the
// line, and Bob's words, whole and in order: each page keeps its cursor
// in place while the other's edits arrive before or after it.
func TestEditorTwoNodesTypeConcurrently(t *testing.T) {
	alice, bob := aliceAndBob(t, 3, "line", " | the line | ")

	// Alice's cursor at the start, Bob's at the end.
	place(t, alice, "0")
	place(t, bob, "area.value.length")
	aliceTypes := "Alice writes first, at the start of this document."
	bobTypes := "Bob adds his words at the very end, concurrently!"
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, p := range []struct {
		page context.Context
		text string
	}{{alice, aliceTypes}, {bob, bobTypes}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range p.text {
				if err := chromedp.Do(p.page, chromedp.KeyEvent(string(r))); err != nil {
					errs <- err
					return
				}
				time.Sleep(15 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := aliceTypes + " | the line | " + bobTypes
	waitText(t, alice, 10*time.Second, want)
	waitText(t, bob, 10*time.Second, want)
	if os.Getenv("SPOOK_SCREENSHOTS") != "" { // with Alice's caret after her words
		waitFor(t, bob, 5*time.Second, `.rcaret[data-name="Alice"]`, "Alice's caret on Bob's page")
		screenshot(t, bob, "editor.png")
	}
	checkTransformMatchesTheNode(t, alice)
}

// TestEditorShowsRemoteCursors opens one text key on two nodes, as Alice
// and Bob. Each page must show the other's caret, with the other's name,
// where the other put it, and keep it after its character while text is
// typed before it.
func TestEditorShowsRemoteCursors(t *testing.T) {
	alice, bob := aliceAndBob(t, 2, "cursors", "hello world")

	start := time.Now()
	place(t, alice, "5") // after "hello"
	waitFor(t, bob, 5*time.Second, `.rcaret[data-name="Alice"][data-pos="5"]`, "Alice's caret on Bob's page")
	t.Logf("Alice's caret shown on n2's page %v after she placed it on n1's", time.Since(start).Round(time.Millisecond))
	waitFor(t, bob, 5*time.Second, `#peers [data-peer="Alice"]`, "Alice listed on Bob's page")

	// Bob types at the start: Alice's caret moves with "hello" on both
	// pages' views, and Bob's caret follows his text on Alice's page.
	place(t, bob, "0")
	for _, r := range "Hi, " {
		if err := chromedp.Do(bob, chromedp.KeyEvent(string(r))); err != nil {
			t.Fatal(err)
		}
	}
	waitText(t, alice, 10*time.Second, "Hi, hello world")
	waitFor(t, alice, 5*time.Second, `.rcaret[data-name="Bob"][data-pos="4"]`, "Bob's caret after his text on Alice's page")
	waitFor(t, bob, 5*time.Second, `.rcaret[data-name="Alice"][data-pos="9"]`, "Alice's caret still after hello on Bob's page")

	// The page moves others' cursors as the node does (presence.go's
	// stickyPos): text typed right at one goes after it.
	got, err := chromedp.Run(bob, chromedp.Evaluate[string](`[
	  spookText.stickyPos(5, [{pos: 5, insert: "ab"}]),
	  spookText.stickyPos(5, [{pos: 4, insert: "a"}]),
	  spookText.stickyPos(5, [{pos: 3, delete: 4}]),
	  spookText.stickyPos(0, [{pos: 0, insert: "a"}]),
	].join(",")`))
	if err != nil || got != "5,6,3,0" {
		t.Errorf("editor.js stickyPos: %q, %v; want 5,6,3,0", got, err)
	}
}

// place puts the page's cursor at the JavaScript expression pos (a
// UTF-16 offset in the textarea).
func place(t *testing.T, page context.Context, pos string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const area = document.getElementById("text"); area.focus(); const p = %s; area.setSelectionRange(p, p); return true; })()`, pos)
	if _, err := chromedp.Run(page, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatal(err)
	}
}

// waitText waits up to d for the page's editor to hold want.
// aliceAndBob starts n nodes, writes text to key on n1 and opens the
// editor on key as Alice on n1 and as Bob on n2, both showing text. The
// pages close when the test ends.
func aliceAndBob(t *testing.T, n int, key, text string) (alice, bob context.Context) {
	t.Helper()
	browser := newBrowser(t)
	nodes := startCluster(t, n, "--token", testToken)
	body, err := json.Marshal(map[string]any{"ops": []map[string]any{{"pos": 0, "insert": text}}})
	if err != nil {
		t.Fatal(err)
	}
	postText(t, nodes[0].addr, key, string(body))
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	t.Cleanup(cancel)
	alice, closeA := openPage(t, ctx, "http://"+nodes[0].addr+"/ui/editor.html?key="+key+"&name=Alice")
	t.Cleanup(closeA)
	bob, closeB := openPage(t, ctx, "http://"+nodes[1].addr+"/ui/editor.html?key="+key+"&name=Bob")
	t.Cleanup(closeB)
	waitText(t, alice, 10*time.Second, text)
	waitText(t, bob, 10*time.Second, text)
	return alice, bob
}

func waitText(t *testing.T, page context.Context, d time.Duration, want string) {
	t.Helper()
	deadline := time.Now().Add(d)
	var got string
	for time.Now().Before(deadline) {
		v, err := chromedp.Run(page, chromedp.Evaluate[string](`document.getElementById("text").value`))
		if err == nil && v == want {
			return
		}
		got = v
		time.Sleep(50 * time.Millisecond)
	}
	status, _ := chromedp.Run(page, chromedp.Text(chromedp.CSS("#status")))
	t.Fatalf("editor text not %q within %v: %q (status %q)", want, d, got, status)
}

// postText sends a POST /v1/text request to the node at addr.
func postText(t *testing.T, addr, key, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/text/"+key, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/text/%s: %s", key, resp.Status)
	}
}

// checkTransformMatchesTheNode runs editor.js's transform on the cases of
// api/http/testdata/text_transform.json, which hold the node's results
// (api/http/textsync.go), and requires the same ops: the two ends of the
// text WebSocket must transform alike or their copies drift apart.
func checkTransformMatchesTheNode(t *testing.T, page context.Context) {
	t.Helper()
	cases, err := os.ReadFile(filepath.Join(repoRoot(t), "api", "http", "testdata", "text_transform.json"))
	if err != nil {
		t.Fatal(err)
	}
	js := `((lines) => {
	  const norm = (ops) => JSON.stringify(ops.map((o) => o.insert ? {pos: o.pos, insert: o.insert} : {pos: o.pos, delete: o.delete}));
	  const bad = [];
	  lines.trim().split("\n").forEach((line, i) => {
	    const c = JSON.parse(line);
	    const [a2, b2] = window.spookText.transform(c.a, c.b, c.a_first);
	    if (norm(a2) !== norm(c.a2) || norm(b2) !== norm(c.b2)) bad.push(i + ": " + line + " → js " + norm(a2) + " " + norm(b2));
	  });
	  return bad.slice(0, 5).join("\n");
	})(` + strconv.Quote(string(cases)) + `)`
	bad, err := chromedp.Run(page, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatal(err)
	}
	if bad != "" {
		t.Fatalf("editor.js transforms differently from the node:\n%s", bad)
	}
}
