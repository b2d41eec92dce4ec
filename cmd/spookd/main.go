package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/internal/buildinfo"
	"github.com/spooksystems/spook/internal/completion"
	"github.com/spooksystems/spook/internal/lograte"
	"github.com/spooksystems/spook/node"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/storage/vfs"
	"github.com/spooksystems/spook/transport/certs"
)

func main() {
	os.Exit(mainCode(os.Args[1:], os.Getenv, os.Stderr))
}

// mainCode runs spookd with args and returns its exit code: 0, 1 when the
// node failed, 2 for a usage error (printed with one hint line; --help
// prints the help).
func mainCode(args []string, getenv func(string) string, out io.Writer) int {
	err := runNode(args, getenv, out, nil)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		_, fs, _ := parse(nil, func(string) string { return "" })
		fs.SetOutput(out)
		fs.Usage()
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(out, "spookd: %v\nRun 'spookd --help' for usage.\n", ue.err)
		return 2
	}
	fmt.Fprintln(out, "spookd:", err)
	return 1
}

// usageError is a mistake in the flags, environment or config file:
// main prints it with one hint line instead of the whole help.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// options are the daemon's flags.
type options struct {
	listen, advertise, data, name, cluster string
	region                                 string
	join, peers                            string
	fsync                                  string
	dev, insecure, rebuild                 bool
	leaveOnTerminate, version              bool
	completion                             string
	tlsCert, tlsKey, tlsCA                 string
	password, token                        string
	users                                  string // --users: the users file (api.ParseUsers)
	clusterKey, clusterKeyFile             string
	auditKeys                              string // --audit-keys: directory of NAME.pub (docs/audit.md)
	auditRetention                         string // --audit-retention: all | checkpoints=N,days=N,age=D,bytes=SIZE,archive=DIR
	auditRetentionEvery                    time.Duration
	auditKeysReload                        time.Duration
	tick, clockOffset                      time.Duration
	logLevel, config                       string
	pprof                                  string // --pprof: loopback address for net/http/pprof
}

func parse(args []string, getenv func(string) string) (*options, *flag.FlagSet, error) {
	o := &options{}
	fs := flag.NewFlagSet("spookd", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:7001", "the one address serving peers, Redis clients and HTTP")
	fs.StringVar(&o.advertise, "advertise", "", "address other nodes dial to reach this one (default: the listen address)")
	fs.StringVar(&o.data, "data", "", "data directory for the log and snapshots (empty: memory only, nothing survives a restart)")
	fs.StringVar(&o.name, "node-id", "", "this node's name, unique in the cluster (default: the host name and port)")
	fs.StringVar(&o.cluster, "cluster", "spook", "cluster name; peers of another cluster are refused")
	fs.StringVar(&o.region, "region", "", "this node's region (letters, digits, '-', '_', '.'); SPOOK.WAITREGION waits for the members of the same region (empty: none)")
	fs.StringVar(&o.join, "join", "", "comma-separated addresses of members of an existing cluster to join")
	fs.StringVar(&o.peers, "peers", "", "initial members of a new cluster, name=addr,... (the same list on every node)")
	fs.StringVar(&o.fsync, "fsync", "batch", "durability policy: always, batch or none (see docs/durability.md)")
	fs.BoolVar(&o.dev, "dev", false, "development mode: refuse any --listen address but loopback, where TLS is not needed (--token and --password still apply)")
	fs.BoolVar(&o.rebuild, "rebuild-from-peers", false, "move this node's data directory aside and rebuild its state from the members named by --join")
	fs.BoolVar(&o.insecure, "insecure", false, "allow a non-loopback listen address without TLS (unsafe)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "this node's certificate (PEM), from 'spook certs node'")
	fs.StringVar(&o.tlsKey, "tls-key", "", "this node's private key (PEM)")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "the cluster CA certificate (PEM), from 'spook certs init'")
	fs.StringVar(&o.clusterKeyFile, "cluster-key-file", "", "file holding the cluster key, the peer admission secret (hex or base64; 'spook up' writes one, or: openssl rand -hex 32)")
	fs.StringVar(&o.clusterKey, "cluster-key", "", "the cluster key itself (prefer --cluster-key-file or SPOOK_CLUSTER_KEY: flags show in ps)")
	fs.StringVar(&o.auditKeys, "audit-keys", "", "audit mode: directory of every member's NAME.pub; this node signs each transaction with DATA/audit.key and applies only transactions signed by these keys (docs/audit.md; needs --data)")
	fs.StringVar(&o.auditRetention, "audit-retention", "all", "audit mode: which history to keep: all, or limits separated by commas: checkpoints=N (the records of the last N checkpoints), days=N or age=DURATION (the records written within that time, by the log segments' modification times), bytes=SIZE (at most that many bytes of log, e.g. 64GiB), archive=DIR (dropped segments moved to DIR; alone: older than the newest checkpoint); records go once one limit lets them, never before a checkpoint covers them; tree hashes and signed tree heads are always kept (docs/audit.md, \"Retention\")")
	fs.DurationVar(&o.auditRetentionEvery, "audit-retention-interval", node.DefaultAuditRetentionInterval, "audit mode: how often the retention policy is applied")
	fs.DurationVar(&o.auditKeysReload, "audit-keys-reload", node.DefaultAuditKeysReload, "audit mode: how often the --audit-keys directory is reread for the keys of members added since (keys are only added; a changed key is refused)")
	fs.StringVar(&o.password, "password", "", "password Redis clients must AUTH with (empty: none)")
	fs.StringVar(&o.token, "token", "", "bearer token the HTTP API requires (empty: none)")
	fs.StringVar(&o.users, "users", "", "file of client users, one 'NAME HASH' a line from 'spook users hash': RESP AUTH NAME PASSWORD and HTTP Basic auth; their writes are checked against the user rules of the write-rights policy (docs/audit.md). Clients must then authenticate; --password stays the default user's (empty: no users)")
	fs.DurationVar(&o.tick, "tick", node.DefaultTickInterval, "length of one replica tick")
	fs.DurationVar(&o.clockOffset, "test-clock-offset", 0, "TEST ONLY: shift this node's wall clock (clock-skew fault tests)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.config, "config", "", "config file of 'flag = value' lines")
	fs.StringVar(&o.pprof, "pprof", "", "serve net/http/pprof on this loopback address, e.g. 127.0.0.1:6060 (empty: off)")
	fs.BoolVar(&o.leaveOnTerminate, "leave-on-terminate", false, "on SIGTERM, leave the cluster gracefully (wait until the other members have this node's departure) before stopping; SIGINT only stops")
	fs.BoolVar(&o.version, "version", false, "print the build (version, commit, time) and exit")
	fs.StringVar(&o.completion, "completion", "", "print a completion script for this shell (bash, zsh or fish) and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s", spookdHelp)
		fs.PrintDefaults()
	}
	// The flag package's own printing (the error, then the whole help) is
	// silenced: main prints a usage error in two lines, --help in full.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, fs, err
		}
		return nil, fs, &usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, fs, &usageError{fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// Environment, then the config file, fill what the command line left.
	var fromEnvErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "SPOOK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" && !set[f.Name] {
			if err := fs.Set(f.Name, v); err != nil && fromEnvErr == nil {
				fromEnvErr = fmt.Errorf("%s: %w", env, err)
			}
			set[f.Name] = true
		}
	})
	if fromEnvErr != nil {
		return nil, fs, &usageError{fromEnvErr}
	}
	if o.config != "" {
		if err := applyConfigFile(fs, o.config, set); err != nil {
			return nil, fs, &usageError{err}
		}
	}
	return o, fs, nil
}

// applyConfigFile sets flags not already set from `name = value` lines.
func applyConfigFile(fs *flag.FlagSet, path string, set map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		name, value = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"`)
		if !ok || fs.Lookup(name) == nil || name == "config" {
			return fmt.Errorf("%s:%d: expected 'flag = value' with a known flag, got %q", path, line, text)
		}
		if set[name] {
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, line, name, err)
		}
	}
	return sc.Err()
}

// buildConfig turns options into a node.Config, refusing unsafe or
// inconsistent combinations with a reason.
func buildConfig(o *options, logOut io.Writer) (node.Config, error) {
	var level slog.Level
	switch strings.ToLower(o.logLevel) {
	case "debug", "info", "warn", "error":
		level.UnmarshalText([]byte(o.logLevel))
	default:
		return node.Config{}, fmt.Errorf("--log-level %q: give debug, info, warn or error", o.logLevel)
	}
	policy, err := storage.ParseSyncPolicy(o.fsync)
	if err != nil {
		return node.Config{}, fmt.Errorf("--fsync %q: give always, batch or none (see docs/durability.md)", o.fsync)
	}
	host, port, err := net.SplitHostPort(o.listen)
	if err != nil {
		return node.Config{}, fmt.Errorf("--listen %q: %v (want HOST:PORT, e.g. 127.0.0.1:7001)", o.listen, err)
	}
	if o.tick < 0 || (o.tick > 0 && o.tick < time.Millisecond) {
		return node.Config{}, fmt.Errorf("--tick %v: give at least 1ms (default %v)", o.tick, node.DefaultTickInterval)
	}
	if o.peers != "" && o.join != "" {
		return node.Config{}, errors.New("give --peers (the members of a new cluster) or --join (a member of an existing one), not both")
	}
	if err := replica.ValidateRegion(o.region); err != nil {
		return node.Config{}, fmt.Errorf("--region: %w", err)
	}
	name := o.name
	if name == "" {
		h, _ := os.Hostname()
		name = h + "-" + port
	}
	cfg := node.Config{
		Name: name, Cluster: o.cluster, Region: o.region, Listen: o.listen, Advertise: o.advertise,
		DataDir: o.data, Fsync: policy, TickInterval: o.tick, ClockOffset: o.clockOffset,
		Password: o.password, Token: o.token,
		// Repeated lines (a refused connection each, under attack) are
		// collapsed into one per interval with a count.
		Logger: slog.New(lograte.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}), lograte.Config{})),
	}
	if o.peers != "" {
		names, addrs := map[string]bool{}, map[string]bool{}
		for _, item := range strings.Split(o.peers, ",") {
			pname, addr, ok := strings.Cut(strings.TrimSpace(item), "=")
			if !ok || pname == "" || addr == "" {
				return node.Config{}, fmt.Errorf("--peers: %q is not name=addr (members are separated by commas)", item)
			}
			if err := checkPeerAddr(addr); err != nil {
				return node.Config{}, fmt.Errorf("--peers: member %q: %w", pname, err)
			}
			if names[pname] || addrs[addr] {
				return node.Config{}, fmt.Errorf("--peers: member %q or address %s listed twice", pname, addr)
			}
			names[pname], addrs[addr] = true, true
			cfg.Members = append(cfg.Members, replica.Peer{Name: pname, Addr: addr})
		}
	}
	if o.join != "" {
		for _, addr := range strings.Split(o.join, ",") {
			addr = strings.TrimSpace(addr)
			if err := checkPeerAddr(addr); err != nil {
				return node.Config{}, fmt.Errorf("--join: %w", err)
			}
			cfg.Join = append(cfg.Join, addr)
		}
	}
	if host == "" {
		host = "all interfaces"
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	key, err := clusterKey(o)
	if err != nil {
		return node.Config{}, err
	}
	cfg.ClusterKey = key
	if cfg.Users, err = loadUsers(o); err != nil {
		return node.Config{}, err
	}
	cfg.AuditKeysDir = o.auditKeys
	if cfg.AuditRetention, err = node.ParseAuditRetention(o.auditRetention); err != nil {
		return node.Config{}, err
	}
	cfg.AuditRetention.Interval = o.auditRetentionEvery
	cfg.AuditKeysReload = o.auditKeysReload
	tlsGiven := o.tlsCert != "" || o.tlsKey != "" || o.tlsCA != ""
	switch {
	case o.dev && !loopback:
		return node.Config{}, fmt.Errorf("--dev listens on loopback only; --listen %s (%s) is not a loopback address", o.listen, host)
	case tlsGiven:
		server, client, err := loadTLS(o.tlsCert, o.tlsKey, o.tlsCA)
		if err != nil {
			return node.Config{}, err
		}
		if err := checkNodeCert(server, name, advertisedHost(o.advertise, host)); err != nil {
			return node.Config{}, fmt.Errorf("--tls-cert %s: %w", o.tlsCert, err)
		}
		cfg.ServerTLS, cfg.ClientTLS, cfg.RequireTLS = server, client, !o.insecure
	case !loopback && !o.insecure:
		return node.Config{}, fmt.Errorf("refusing --listen %s (%s, not loopback) without TLS and client authentication: give --tls-cert, --tls-key and --tls-ca (see 'spook certs'), or --insecure to accept the risk", o.listen, host)
	}
	if o.insecure {
		cfg.Logger.Warn("--insecure: plaintext connections are accepted: passwords, tokens and data cross the network in clear, " +
			"and plaintext peers are admitted by the cluster key alone")
	}
	return cfg, nil
}

// loadUsers reads --users, nil if not given. The file is read once, at
// start: a change takes effect at the next restart.
func loadUsers(o *options) (*api.Users, error) {
	if o.users == "" {
		return nil, nil
	}
	text, err := os.ReadFile(o.users)
	if err != nil {
		return nil, fmt.Errorf("--users: %w", err)
	}
	users, err := api.ParseUsers(text)
	if err != nil {
		return nil, fmt.Errorf("--users %s: %w", o.users, err)
	}
	if o.password != "" && users.Has(api.DefaultUser) {
		return nil, fmt.Errorf("--password and --users %s both give the %q user's password; keep one", o.users, api.DefaultUser)
	}
	return users, nil
}

// clusterKey reads the cluster key from --cluster-key-file or
// --cluster-key (SPOOK_CLUSTER_KEY), nil if neither is given.
func clusterKey(o *options) ([]byte, error) {
	switch {
	case o.clusterKeyFile != "" && o.clusterKey != "":
		return nil, errors.New("give --cluster-key-file or --cluster-key (SPOOK_CLUSTER_KEY), not both")
	case o.clusterKeyFile != "":
		text, err := os.ReadFile(o.clusterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--cluster-key-file: %w", err)
		}
		key, err := node.ParseClusterKey(string(text))
		if err != nil {
			return nil, fmt.Errorf("--cluster-key-file %s: %w", o.clusterKeyFile, err)
		}
		return key, nil
	case o.clusterKey != "":
		key, err := node.ParseClusterKey(o.clusterKey)
		if err != nil {
			return nil, fmt.Errorf("--cluster-key: %w", err)
		}
		return key, nil
	}
	return nil, nil
}

// advertisedHost is the host other nodes dial: from --advertise (an
// address or a ws:// URL) or the listen host; "" if it is a wildcard,
// where no certificate check can say which name peers will use.
func advertisedHost(advertise, listenHost string) string {
	host := listenHost
	if advertise != "" {
		a := advertise
		if u, err := url.Parse(advertise); err == nil && (u.Scheme == "ws" || u.Scheme == "wss") {
			a = u.Host
		}
		if h, _, err := net.SplitHostPort(a); err == nil {
			host = h
		}
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return ""
	}
	return host
}

// checkNodeCert refuses, at startup, a certificate that would fail at the
// first link: one that does not name this node, is a client certificate,
// or does not cover the advertised host.
func checkNodeCert(server *tls.Config, name, host string) error {
	leaf := server.Certificates[0].Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(server.Certificates[0].Certificate[0]); err != nil {
			return err
		}
	}
	return certs.CheckNodeCert(leaf, name, host)
}

// loadTLS builds mutual-TLS configs from a node certificate and the
// cluster CA: TLS 1.3 only; peers must present a certificate the CA signed.
func loadTLS(certFile, keyFile, caFile string) (server, client *tls.Config, err error) {
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, nil, errors.New("TLS needs all of --tls-cert, --tls-key and --tls-ca")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("load node certificate: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	// Session tickets off: resumption would skip the client certificate
	// check on reconnect.
	server = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, SessionTicketsDisabled: true}
	client = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, RootCAs: pool}
	return server, client, nil
}

// setAsideData prepares --rebuild-from-peers: the local state (corrupt,
// or not to be trusted) is renamed, never deleted, and the node starts
// empty and joins through --join, taking a snapshot from a member. Its
// own earlier writes come back with that snapshot, so its next
// transaction continues after them.
func setAsideData(cfg node.Config) error {
	if cfg.DataDir == "" || len(cfg.Join) == 0 {
		return errors.New("--rebuild-from-peers needs --data (the directory to rebuild) and --join (members to rebuild from)")
	}
	aside := fmt.Sprintf("%s.discarded-%s", cfg.DataDir, time.Now().UTC().Format("20060102T150405Z"))
	switch err := os.Rename(cfg.DataDir, aside); {
	case err == nil:
		cfg.Logger.Warn("local state moved aside; rebuilding from peers", "from", cfg.DataDir, "to", aside, "join", cfg.Join)
	case errors.Is(err, os.ErrNotExist):
		cfg.Logger.Warn("no local state; rebuilding from peers", "join", cfg.Join)
	default:
		return fmt.Errorf("move %s aside: %w", cfg.DataDir, err)
	}
	return nil
}

// checkPeerAddr refuses a member address a peer could not dial: it must
// be HOST:PORT with a host name or IP and a port number, or a ws:// or
// wss:// URL (a WebSocket peer link).
func checkPeerAddr(addr string) error {
	if strings.HasPrefix(addr, "ws://") || strings.HasPrefix(addr, "wss://") {
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return fmt.Errorf("address %q is not a ws:// or wss:// URL with a host", addr)
		}
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		reason := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			reason = ae.Err // without the address, which the message already quotes
		}
		return fmt.Errorf("address %q: %s (want HOST:PORT; members are separated by commas)", addr, reason)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("address %q: port %q is not a number from 1 to 65535", addr, port)
	}
	if host == "" {
		return fmt.Errorf("address %q has no host (peers must be able to dial it)", addr)
	}
	if net.ParseIP(host) == nil && !validHostName(host) {
		return fmt.Errorf("address %q: %q is neither an IP address nor a host name", addr, host)
	}
	return nil
}

// validHostName reports whether h is a DNS name: labels of letters,
// digits and inner hyphens (underscores allowed, as some resolvers do),
// separated by dots.
func validHostName(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// startWarnings are the loud lines of a node that would otherwise
// surprise its operator: one that will be a cluster of its own, and one
// that forgets everything at exit. Each names the flag that changes it.
func startWarnings(o *options) []string {
	var out []string
	if o.peers == "" && o.join == "" {
		out = append(out, "neither --peers nor --join given: unless --data already holds a cluster's state, this node is a one-node cluster of its own; give --peers name=addr,... (a new cluster) or --join ADDR (an existing one)")
	}
	if o.data == "" {
		out = append(out, "no --data: state is kept in memory only and lost when the process exits; give --data DIR to keep it")
	}
	return out
}

// explain adds what the operator can do to a start failure: damaged data
// can be rebuilt from peers; a directory in use names the other process.
func explain(err error, dataDir string) error {
	var le *vfs.LockedError
	switch {
	case errors.As(err, &le) && le.PID != 0:
		return fmt.Errorf("data directory %s is in use by another spookd process (pid %d); stop it or give another --data", dataDir, le.PID)
	case errors.Is(err, vfs.ErrLocked):
		return fmt.Errorf("data directory %s is in use by another spookd process; stop it or give another --data", dataDir)
	case errors.Is(err, storage.ErrCorrupt):
		return fmt.Errorf("%w\nThe data in %s is damaged. To rebuild this node from the other members, restart it with --rebuild-from-peers --join ADDR (ADDR: a live member; the directory is moved aside, not deleted)", err, dataDir)
	}
	return err
}

// runNode runs one node until SIGINT or SIGTERM (or stop, for tests),
// logging to logOut. With --leave-on-terminate, SIGTERM first makes the
// node leave the cluster gracefully.
func runNode(args []string, getenv func(string) string, logOut io.Writer, stop <-chan os.Signal) error {
	o, fs, err := parse(args, getenv)
	if err != nil {
		return err
	}
	if o.version {
		fmt.Fprintln(logOut, "spookd", buildinfo.Get().String())
		return nil
	}
	if o.completion != "" {
		p := completion.Program{Name: "spookd", Flags: append(completion.FlagsOf(fs), completion.Flag{Name: "help", Usage: "print the help"})}
		if err := completion.Write(os.Stdout, o.completion, p); err != nil {
			return &usageError{fmt.Errorf("--completion: %w", err)}
		}
		return nil
	}
	cfg, err := buildConfig(o, logOut)
	if err != nil {
		return &usageError{err}
	}
	cfg.Logger.Info("spookd", "version", buildinfo.Get().Short())
	for _, w := range startWarnings(o) {
		cfg.Logger.Warn(w)
	}
	if o.rebuild {
		if err := setAsideData(cfg); err != nil {
			return err
		}
	}
	if limit, from := defaultMemoryLimit(getenv, os.ReadFile); limit > 0 {
		debug.SetMemoryLimit(limit)
		cfg.Logger.Info("Go memory limit", "bytes", limit, "from", from)
	}
	if o.pprof != "" {
		l, err := servePprof(o.pprof)
		if err != nil {
			return err
		}
		defer l.Close()
		cfg.Logger.Info("serving pprof", "addr", l.Addr().String())
	}
	if stop == nil {
		// Take the signals before the node starts: it listens first
		// (clients may connect, and a supervisor may already stop it)
		// and then replays its log; a SIGTERM in that window would
		// otherwise kill the process unclosed, without its leave. One
		// that comes during the start is handled once it is done.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sig)
		stop = sig
	}
	n, err := node.Start(cfg)
	if err != nil {
		return explain(err, cfg.DataDir)
	}
	s := <-stop
	cfg.Logger.Info("shutting down", "signal", s.String())
	if o.leaveOnTerminate && s == syscall.SIGTERM {
		ctx, cancel := context.WithTimeout(context.Background(), node.DefaultLeaveTimeout)
		res, err := n.Leave(ctx)
		cancel()
		if err != nil {
			cfg.Logger.Warn("graceful leave incomplete; stopping anyway", "err", err, "acknowledged_by", res.Acknowledged)
		}
	}
	return n.Close()
}

// spookdHelp opens spookd --help; the flags follow.
const spookdHelp = `usage: spookd [flags]

Runs one Spook node: one port serves peers, Redis clients and HTTP.
Flags may also come from SPOOK_<FLAG> environment variables (dashes as
underscores) or a --config file of 'flag = value' lines; the command line
wins over the environment, which wins over the file.

Examples:
  spookd --listen 127.0.0.1:7001 --data data/n1 --node-id n1 \
         --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003
  spookd --listen 10.0.0.4:7001 --data /var/lib/spook --node-id n4 --join 10.0.0.1:7001 \
         --tls-cert n4.crt --tls-key n4.key --tls-ca ca.crt

See docs/operations.md. Flags:

`

// servePprof serves the runtime profiles (net/http/pprof) on their own
// listener at addr, which must be a loopback address: profiles expose
// memory contents and cost CPU, so they are never reachable from another
// host. The handlers are on a private mux, not http.DefaultServeMux. The
// listener is closed when the daemon exits.
func servePprof(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--pprof %q: refusing a non-loopback address; profiles are served on 127.0.0.1, ::1 or localhost only", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	if tcp, ok := l.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		l.Close()
		return nil, fmt.Errorf("--pprof %q: resolved to non-loopback %s", addr, l.Addr())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return l, nil
}

// DefaultMemoryLimitPercent is the share of the memory the process may
// use (its cgroup's memory.max, else the machine's MemTotal) that spookd
// sets as the Go runtime's soft memory limit when GOMEMLIMIT is not set.
// Under the limit nothing changes (GOGC, default 100, paces the
// collector); near it the collector runs more often instead of letting
// the heap's headroom push the process into the OOM killer. It stays
// below 100 to leave room for what the Go heap does not count (stacks,
// page cache of the log). GOMEMLIMIT=off or a value of its own overrides
// it; so does GOGC=off.
const DefaultMemoryLimitPercent = 75

// defaultMemoryLimit returns the soft memory limit to set and where it
// came from, or 0 when the environment sets one (or GOGC=off) or no
// bound is known.
func defaultMemoryLimit(getenv func(string) string, readFile func(string) ([]byte, error)) (int64, string) {
	if getenv("GOMEMLIMIT") != "" || getenv("GOGC") == "off" {
		return 0, ""
	}
	if b, err := readFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n / 100 * DefaultMemoryLimitPercent, "cgroup memory.max"
		}
	}
	b, err := readFile("/proc/meminfo")
	if err != nil {
		return 0, ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb > 0 {
				return kb * 1024 / 100 * DefaultMemoryLimitPercent, "MemTotal"
			}
		}
	}
	return 0, ""
}
