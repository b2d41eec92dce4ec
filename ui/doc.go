// Package ui holds the web page spookd serves on its single port at /ui/:
// a live view of the cluster and a collaborative text editor, as plain
// HTML, CSS and JavaScript embedded in the binary (no CDN, no build step,
// nothing fetched at run time).
//
//	mux.Handle("/ui/", ui.Handler()) // httpapi does this, behind its auth
//
// The page only reads what the HTTP API already serves, under /ui/api/
// (httpapi registers those routes; they accept the same token as /v1/,
// also as the password of HTTP Basic auth so a browser can prompt for
// it):
//
//   - the cluster view (index.html, cluster.js) polls /ui/api/status
//     every PollInterval and draws the members with their states, their
//     applied vectors as lag bars against this node's, collapse progress,
//     the replica's recent events (divergence, repair, peer state) as they
//     appear, and the write rate derived from the applied vector;
//   - the editor (editor.html, editor.js) opens /ui/api/text/KEY as a
//     WebSocket: it receives the document, then every change, and sends
//     the user's inserts and deletes. Positions are Unicode code points.
//     Between sending an edit and seeing it acknowledged the page keeps
//     its local text and cursor stable by transforming them over the
//     remote edits that arrive first (editor.js's comment gives the rule).
//     It also reports its cursor and selection with a name and colour the
//     page picks (?name=, or the "you are" field), and draws the other
//     editors' carets, names and selections on the text, on whichever
//     node they edit: the node keeps them attached to their characters
//     (api/http/presence.go) and the page moves them over edits between
//     its messages.
//
// Handler serves the files with Cache-Control: no-cache and a
// Content-Security-Policy that allows only this origin.
package ui
