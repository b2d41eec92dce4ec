// Package browser tests spookd's web page (/ui/) as a person uses it: in
// a real headless Chromium (Debian's chromium package, which .ci/run
// installs), driven with chromedp, against spookd processes built from
// this tree and started on 127.0.0.1.
//
// It is a module of its own so the browser driver stays out of Spook's
// dependencies; `make test` runs it after the main module. Without a
// chromium binary on PATH (or in $CHROMIUM) each test skips and says how
// to install one. The tests save screenshots of the views to docs/img/
// (cluster.png, editor.png) when SPOOK_SCREENSHOTS=1.
package browser
