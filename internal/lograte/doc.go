// Package lograte keeps a flood of identical log lines from flooding the
// log. Handler wraps an slog.Handler: the first record of a given level
// and message passes, and further records with the same level and
// message within Config.Interval are dropped and counted. The count is
// reported once the interval is over, on the next record with that
// message (as the attribute "repeated": how many were dropped before
// it), or, if the message does not recur, on a summary record emitted
// when any later record arrives:
//
//	h := lograte.New(slog.NewTextHandler(os.Stderr, nil), lograte.Config{})
//	log := slog.New(h)
//	for range 5000 { log.Warn("peer refused", "remote", addr) } // one line
//	// ... 10 s later, on the next line logged:
//	// level=WARN msg="peer refused" repeated=4999 repeated_over=10s
//
// Attributes do not count: 5,000 refusals from 5,000 addresses are one
// message. Debug records are never limited (they are off unless asked
// for, and then every line is wanted). The handler reads no clock of its
// own when Config.Now is set, so tests are deterministic, and starts no
// goroutine.
package lograte
