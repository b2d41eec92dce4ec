package main

// The client subcommands (status, members, member, get, set, incr, del,
// watch, wait) talk to one node over its HTTP/JSON API (package api/http,
// docs/api.md). This file holds what they share: the node's address and
// bearer token, one request helper that turns every failure into a message
// an operator can act on, and argument parsing that lets flags follow
// positional arguments.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Output streams of the subcommands. Tests swap them; nothing else may.
var (
	stdout io.Writer = os.Stdout
	stderr io.Writer = os.Stderr
	stdin  io.Reader = os.Stdin
)

const (
	// DefaultAddr is the node address used when neither --addr nor
	// SPOOK_ADDR is given: spookd's default listen address.
	DefaultAddr = "127.0.0.1:7001"
	// EnvAddr and EnvToken name the environment variables that supply
	// --addr and --token when the flags are not given.
	EnvAddr  = "SPOOK_ADDR"
	EnvToken = "SPOOK_TOKEN"
	// EnvUser supplies --user; EnvPassword is that user's password (it
	// has no flag: a flag would show in the process list).
	EnvUser     = "SPOOK_USER"
	EnvPassword = "SPOOK_PASSWORD"
	// EnvTLSCert, EnvTLSKey and EnvTLSCA supply --tls-cert, --tls-key and
	// --tls-ca. They are the names spookd reads for the same files, so a
	// shell set up for a node lets the CLI talk to it.
	EnvTLSCert = "SPOOK_TLS_CERT"
	EnvTLSKey  = "SPOOK_TLS_KEY"
	EnvTLSCA   = "SPOOK_TLS_CA"
	// RequestTimeout bounds one ordinary request (everything but watch
	// and wait, which have their own --timeout), connecting included.
	RequestTimeout = 30 * time.Second
	// MaxErrorBodyBytes bounds how much of an error reply is read and
	// quoted; the node's JSON errors are far smaller.
	MaxErrorBodyBytes = 64 << 10
	// MaxReplyBytes bounds a JSON reply read into memory: a key document
	// (a large set or map) is the biggest. Over it the command fails
	// rather than allocating without bound.
	MaxReplyBytes = 1 << 30
)

// Errors the client subcommands return.
var (
	// errUnreachable: no connection to the node could be made.
	errUnreachable = errors.New("cannot reach node")
	// errAbsent: the key does not exist (spook get exits 1 with it).
	errAbsent = errors.New("(nil)")
	// errNotReached: spook wait timed out before enough members had the write.
	errNotReached = errors.New("not reached")
	// errStreamEnded: the node ended a watch stream that was not bounded
	// by --max or --timeout.
	errStreamEnded = errors.New("the node ended the stream")
)

// nodeError is an error reply from the node: its HTTP status and the
// code and message of its JSON body ({"error":{"code","message","op"}}).
type nodeError struct {
	Status  int
	Code    string
	Message string
	Op      *int // index of the failing /v1/txn operation, when given
}

func (e *nodeError) Error() string {
	msg := e.Message
	if e.Op != nil {
		msg = fmt.Sprintf("operation %d: %s", *e.Op, msg)
	}
	s := fmt.Sprintf("%s (%s, HTTP %d)", msg, e.Code, e.Status)
	if e.Status == http.StatusUnauthorized {
		s += "; pass --token or set " + EnvToken + " (or --user with " + EnvPassword + ")"
	}
	return s
}

// clientFlags are the flags every client subcommand takes. Each falls
// back to its environment variable when not given.
type clientFlags struct {
	addr    string
	token   string
	user    string
	tlsCert string
	tlsKey  string
	tlsCA   string
}

// addClientFlags defines --addr, --token and the TLS flags on fs.
func addClientFlags(fs *flag.FlagSet) *clientFlags {
	f := &clientFlags{}
	fs.StringVar(&f.addr, "addr", "", "node HTTP address, host:port or URL (default $"+EnvAddr+", else "+DefaultAddr+")")
	fs.StringVar(&f.token, "token", "", "bearer token of the node's API (default $"+EnvToken+")")
	fs.StringVar(&f.user, "user", "", "client user (spookd --users) to authenticate as, with HTTP Basic auth and the password in $"+EnvPassword+"; not with --token (default $"+EnvUser+")")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "client certificate (PEM) for a node that requires TLS (default $"+EnvTLSCert+")")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the certificate's private key (PEM) (default $"+EnvTLSKey+")")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "cluster CA certificate (PEM) that signed the node's certificate (default $"+EnvTLSCA+")")
	return f
}

// orEnv returns v, or the environment variable name when v is empty.
func orEnv(v, name string) string {
	if v == "" {
		return os.Getenv(name)
	}
	return v
}

// tlsConfig builds the client TLS configuration from the files, nil when
// none is given. Nodes off loopback require mutual TLS 1.3: the CLI shows
// a certificate the cluster CA signed and checks the node's against it.
func tlsConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" && caFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if caFile != "" {
		caPEM, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// client is a connection to one node's HTTP API. It is safe for
// concurrent use.
type client struct {
	addr  string // as the user gave it (or its default), for messages
	base  string // scheme://host[:port][/prefix], no trailing slash
	token string
	// user and password, when user is set, go as HTTP Basic auth
	// instead of the token.
	user, password string
	http           *http.Client
}

// client resolves the flags and environment into a client.
func (f *clientFlags) client() (*client, error) {
	addr := orEnv(f.addr, EnvAddr)
	if addr == "" {
		addr = DefaultAddr
	}
	tlsCfg, err := tlsConfig(orEnv(f.tlsCert, EnvTLSCert), orEnv(f.tlsKey, EnvTLSKey), orEnv(f.tlsCA, EnvTLSCA))
	if err != nil {
		return nil, err
	}
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
		if tlsCfg != nil {
			base = "https://" + addr
		}
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bad node address %q: want host:port or http(s)://host:port", addr)
	}
	if tlsCfg != nil && u.Scheme == "http" {
		return nil, fmt.Errorf("TLS files given but the address %q says http://", addr)
	}
	token, user := orEnv(f.token, EnvToken), orEnv(f.user, EnvUser)
	password := os.Getenv(EnvPassword)
	switch {
	case user != "" && f.token != "":
		return nil, errors.New("give --token or --user, not both")
	case user != "" && password == "":
		return nil, fmt.Errorf("--user %s: set the password in %s", user, EnvPassword)
	case user != "":
		token = "" // the user's credentials stand for it
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	return &client{
		addr:     addr,
		base:     strings.TrimSuffix(u.String(), "/"),
		token:    token,
		user:     user,
		password: password,
		http: &http.Client{
			Transport: transport,
			// The API never redirects; a redirect would come from path
			// cleaning (see keyPath) or a proxy, and following it could
			// read or write another key.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// close releases idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// do sends one request and returns the response when its status is 2xx;
// the caller closes its body. Any other status becomes a *nodeError, and
// a transport failure an error saying the node cannot be reached.
func (c *client) do(ctx context.Context, method, pathQuery string, body io.Reader, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+pathQuery, body)
	if err != nil {
		return nil, err
	}
	switch {
	case c.user != "":
		req.SetBasicAuth(c.user, c.password)
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeError(resp)
}

// transportError explains a failed round trip.
func (c *client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("node at %s did not answer in time: %w", c.addr, ctx.Err())
		}
		return ctx.Err()
	}
	reason := err.Error()
	var opErr *net.OpError
	var urlErr *url.Error
	switch {
	case errors.As(err, &opErr):
		reason = opErr.Err.Error()
	case errors.As(err, &urlErr):
		reason = urlErr.Err.Error()
	}
	hint := "is spookd running there? set --addr or " + EnvAddr
	if strings.Contains(reason, "tls:") || strings.Contains(reason, "x509:") {
		hint = "check --tls-cert, --tls-key and --tls-ca: the node requires a client certificate its cluster CA signed"
	}
	return fmt.Errorf("%w at %s: %s (%s)", errUnreachable, c.addr, reason, hint)
}

// readError explains a failure while reading a reply that had begun.
func (c *client) readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return c.transportError(ctx, err)
	}
	return fmt.Errorf("reading the reply of the node at %s: %w", c.addr, err)
}

// decodeError reads a non-2xx reply into a *nodeError. A body that is not
// the node's JSON error (a proxy's page, say) is quoted, shortened.
func decodeError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBodyBytes))
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Op      *int   `json:"op"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		return &nodeError{Status: resp.StatusCode, Code: body.Error.Code, Message: body.Error.Message, Op: body.Error.Op}
	}
	text := strings.TrimSpace(string(raw))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	if strings.Contains(text, "HTTPS server") {
		text += " (give --tls-ca, --tls-cert and --tls-key, or an https:// address)"
	}
	code := "http"
	if resp.StatusCode/100 == 3 {
		code, text = "redirect", "unexpected redirect to "+resp.Header.Get("Location")
	}
	return &nodeError{Status: resp.StatusCode, Code: code, Message: text}
}

// getJSON GETs pathQuery and decodes its JSON reply into out.
func (c *client) getJSON(ctx context.Context, pathQuery string, out any) error {
	resp, err := c.do(ctx, http.MethodGet, pathQuery, nil, "Accept", "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeReply(resp.Body, out)
}

// postJSON POSTs in as JSON to pathQuery and decodes the reply into out.
func (c *client) postJSON(ctx context.Context, pathQuery string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPost, pathQuery, bytes.NewReader(b), "Content-Type", "application/json", "Accept", "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeReply(resp.Body, out)
}

// decodeReply decodes one bounded JSON reply, numbers as json.Number so
// int64 counters keep every digit.
func decodeReply(r io.Reader, out any) error {
	dec := json.NewDecoder(io.LimitReader(r, MaxReplyBytes))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("bad reply from node: %w", err)
	}
	return nil
}

// requestContext is the context of one ordinary request.
func requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), RequestTimeout)
}

// keyPath is the URL of key under /v1/kv/, each segment escaped. The
// node's router cleans paths (so "a//b", "a/./b" and "a/../b" would name
// another key), so such keys go as a query, /v1/kv?key=K, which the node
// reads verbatim; the writes go through /v1/txn and need neither.
func keyPath(key string) (string, error) {
	if key == "" {
		return "", errors.New("empty key")
	}
	segments := strings.Split(key, "/")
	p := "/v1/kv/" + key
	cleaned := path.Clean(p)
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(cleaned, "/") {
		cleaned += "/"
	}
	if cleaned != p {
		return "/v1/kv?key=" + url.QueryEscape(key), nil
	}
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return "/v1/kv/" + strings.Join(segments, "/"), nil
}

// txnOp is one operation of POST /v1/txn (docs/api.md).
type txnOp struct {
	Op       string  `json:"op"`
	Key      string  `json:"key"`
	Value    *string `json:"value,omitempty"`
	By       *int64  `json:"by,omitempty"`
	Encoding string  `json:"encoding,omitempty"`
}

// newTxnOp builds an operation on key with an optional value, base64 when
// either is not valid UTF-8 (JSON strings cannot carry arbitrary bytes).
func newTxnOp(op, key string, value *string) txnOp {
	o := txnOp{Op: op, Key: key, Value: value}
	if !utf8.ValidString(key) || (value != nil && !utf8.ValidString(*value)) {
		o.Encoding = "base64"
		o.Key = base64Std(key)
		if value != nil {
			v := base64Std(*value)
			o.Value = &v
		}
	}
	return o
}

// txnReply is the reply of POST /v1/txn.
type txnReply struct {
	Token   string            `json:"token"`
	Results []json.RawMessage `json:"results"`
}

// txn applies ops as one transaction.
func (c *client) txn(ops []txnOp) (txnReply, error) {
	ctx, cancel := requestContext()
	defer cancel()
	var reply txnReply
	err := c.postJSON(ctx, "/v1/txn", ops, &reply)
	return reply, err
}

// printToken prints a write's token, the one line scripts capture
// (tok=$(spook set k v); spook wait "$tok"). A write that changed nothing
// has no token; that is said on stderr and stdout stays empty.
func printToken(token string) {
	if token == "" {
		fmt.Fprintln(stderr, "(nothing changed; no token)")
		return
	}
	fmt.Fprintln(stdout, token)
}

// parseArgs parses args with fs, allowing flags after positional
// arguments ("spook wait TOKEN --members 2"), and returns the positional
// ones. "--" ends the flags; a negative number ("-5") is positional unless
// it is the value of the flag before it.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case len(a) > 1 && a[0] == '-' && !isNumber(a):
			flags = append(flags, a)
			if takesValue(fs, a) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	if err := parseFlags(fs, flags); err != nil {
		return nil, err
	}
	return positional, nil
}

// parseFlags parses args with fs. --help prints the command's help (its
// Usage) to stderr and returns flag.ErrHelp; any other flag error comes
// back as a usageError for main to print with one hint line. The flag
// package's own printing (the error, then the whole help) is silenced.
func parseFlags(fs *flag.FlagSet, args []string) error {
	help := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = help
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		help()
		return err
	case err != nil:
		return &usageError{err}
	}
	return nil
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// takesValue reports whether the flag argument a ("-x" or "--x", no "=")
// names a defined flag that needs a separate value.
func takesValue(fs *flag.FlagSet, a string) bool {
	if strings.Contains(a, "=") {
		return false
	}
	f := fs.Lookup(strings.TrimLeft(a, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// newFlagSet returns a subcommand's flag set: errors are returned, not
// fatal, and --help prints text (synopsis, explanation, examples) then
// the flags, to stderr.
func newFlagSet(name, text string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), strings.TrimLeft(text, "\n"))
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// displayKey prints a key on one line: as is when it is printable text
// without spaces, else Go-quoted.
func displayKey(k string) string {
	if k == "" || !utf8.ValidString(k) {
		return strconv.Quote(k)
	}
	for _, r := range k {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' {
			return strconv.Quote(k)
		}
	}
	return k
}

// copyJSON GETs pathQuery and copies the node's JSON reply to stdout as is.
func copyJSON(ctx context.Context, c *client, pathQuery string) error {
	resp, err := c.do(ctx, http.MethodGet, pathQuery, nil, "Accept", "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return c.readError(ctx, err)
	}
	return nil
}
