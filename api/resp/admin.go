package resp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
	"github.com/tidwall/redcon"
)

// Connection, server and keyspace-wide commands.

func cmdPing(s *Server, c *client, args [][]byte) {
	if c.subscribed() && c.out.proto != 3 {
		// In subscribed mode RESP2 replies with a push-style array.
		c.out.WriteArray(2)
		c.out.WriteBulkString("pong")
		if len(args) > 1 {
			c.out.WriteBulk(args[1])
		} else {
			c.out.WriteBulkString("")
		}
		return
	}
	if len(args) > 2 {
		c.out.WriteError("ERR wrong number of arguments for 'ping' command")
		return
	}
	c.out.WriteRaw(readPing(view{}, args, nil))
}

// redisVersion is the Redis version Spook answers as; clients use it to
// pick features, and Spook's commands behave as this version's.
const redisVersion = "7.2.0"

func cmdHello(s *Server, c *client, args [][]byte) {
	if len(args) > 1 {
		v, err := parseInt(args[1])
		if err != nil {
			c.out.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 && v != 3 {
			c.out.WriteError("NOPROTO unsupported protocol version")
			return
		}
	}
	var auth bool
	var user, pass, name []byte
	setName := false
	for i := 2; i < len(args); i++ {
		switch {
		case bytes.EqualFold(args[i], []byte("AUTH")) && i+2 < len(args):
			auth, user, pass = true, args[i+1], args[i+2]
			i += 2
		case bytes.EqualFold(args[i], []byte("SETNAME")) && i+1 < len(args):
			setName, name = true, args[i+1]
			i++
		default:
			c.out.WriteError("ERR Syntax error in HELLO option '" + oneLine(string(args[i])) + "'")
			return
		}
	}
	if auth {
		if !s.checkPassword(user, pass) {
			c.out.WriteError(string(errWrongPass))
			return
		}
		c.setUser(string(user))
	}
	if !c.authed {
		c.out.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName {
		if !validClientName(name) {
			c.out.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.name = string(name)
	}
	if len(args) > 1 {
		v, _ := parseInt(args[1])
		c.out.proto = int(v)
	}
	c.out.WriteMap(7)
	c.out.WriteBulkString("server")
	c.out.WriteBulkString("redis")
	c.out.WriteBulkString("version")
	c.out.WriteBulkString(redisVersion)
	c.out.WriteBulkString("proto")
	c.out.WriteInt(max(c.out.proto, 2))
	c.out.WriteBulkString("id")
	c.out.WriteInt64(c.id)
	c.out.WriteBulkString("mode")
	c.out.WriteBulkString("standalone")
	c.out.WriteBulkString("role")
	c.out.WriteBulkString("master")
	c.out.WriteBulkString("modules")
	c.out.WriteArray(0)
}

// checkPassword reports whether user/pass authenticate: a user of
// Config.Users, or the default user with Config.Password (compared in
// constant time). With no credential configured the only user is the
// default one, and it accepts any password, as Redis's nopass default
// user does. A failed check changes nothing: the connection keeps the
// user it had, and may try again at once (as in Redis: no delay, no
// count; each try costs the node one key derivation, see
// api.DefaultPasswordIterations).
func (s *Server) checkPassword(user, pass []byte) bool {
	if !s.creds.Required() {
		return string(user) == api.DefaultUser
	}
	return s.creds.Verify(string(user), pass)
}

func cmdAuth(s *Server, c *client, args [][]byte) {
	var user, pass []byte
	switch len(args) {
	case 2:
		if !s.creds.Required() {
			c.out.WriteError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
		user, pass = []byte(api.DefaultUser), args[1]
	case 3:
		user, pass = args[1], args[2]
	default:
		c.out.WriteError(string(errSyntax))
		return
	}
	if !s.checkPassword(user, pass) {
		c.out.WriteError(string(errWrongPass))
		return
	}
	c.setUser(string(user))
	c.out.WriteString("OK")
}

func cmdSelect(s *Server, c *client, args [][]byte) {
	db, err := parseInt(args[1])
	switch {
	case err != nil:
		c.out.WriteError(string(errNotInteger))
	case db != 0:
		c.out.WriteError("ERR DB index is out of range")
	default:
		c.out.WriteString("OK")
	}
}

func cmdQuit(s *Server, c *client, args [][]byte) {
	c.out.WriteString("OK")
	c.quit = true // the connection flushes and closes; nothing after QUIT runs
}

func cmdReset(s *Server, c *client, args [][]byte) {
	c.resetMulti()
	c.channels, c.patterns = nil, nil
	c.stopPump()
	c.name = ""
	c.resetUser()
	c.out.proto = 2
	c.out.WriteString("RESET")
}

// validClientName is Redis's rule: printable ASCII without spaces.
func validClientName(name []byte) bool {
	for _, b := range name {
		if b < '!' || b > '~' {
			return false
		}
	}
	return true
}

func cmdClient(s *Server, c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	arity := map[string]int{"setname": 3, "getname": 2, "id": 2, "setinfo": 4, "info": 2, "list": -2, "help": 2}
	want, known := arity[sub]
	if !known {
		c.out.WriteError("ERR unknown subcommand '" + oneLine(string(args[1])) + "'. Try CLIENT HELP.")
		return
	}
	if (want >= 0 && len(args) != want) || (want < 0 && len(args) < -want) {
		c.out.WriteError("ERR wrong number of arguments for 'client|" + sub + "' command")
		return
	}
	switch sub {
	case "help":
		c.out.WriteRaw(appendHelp(nil, clientHelp))
	case "setname":
		if !validClientName(args[2]) {
			c.out.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.name = string(args[2])
		c.out.WriteString("OK")
	case "getname":
		if c.name == "" {
			c.out.WriteNull()
			return
		}
		c.out.WriteBulkString(c.name)
	case "id":
		c.out.WriteInt64(c.id)
	case "setinfo":
		// go-redis sends lib-name and lib-ver; Spook does not keep them.
		c.out.WriteString("OK")
	case "info", "list":
		c.out.WriteBulkString(fmt.Sprintf("id=%d addr=%s name=%s db=0 multi=%d sub=%d psub=%d\n",
			c.id, c.out.RemoteAddr(), c.name, len(c.queued), len(c.channels), len(c.patterns)))
	}
}

// clientHelp is CLIENT HELP's reply: the subcommands Spook serves.
var clientHelp = []string{
	"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"GETNAME",
	"    Return the name of the current connection.",
	"ID",
	"    Return the ID of the current connection.",
	"INFO",
	"    Return information about the current client connection.",
	"LIST",
	"    Return information about the current client connection (Spook lists only",
	"    the caller).",
	"SETINFO <option> <value>",
	"    Accepted and ignored (client libraries send their name and version).",
	"SETNAME <name>",
	"    Assign the name <name> to the current connection.",
	"HELP",
	"    Print this help.",
}

// commandFlags are the COMMAND flags of c.
func commandFlags(c *command) []string {
	var f []string
	if c.flags&flagWrite != 0 {
		f = append(f, "write")
	}
	if c.flags&flagReadOnly != 0 {
		f = append(f, "readonly")
	}
	if c.flags&flagAdmin != 0 {
		f = append(f, "fast")
	}
	if c.flags&flagPubSub != 0 {
		f = append(f, "pubsub")
	}
	if c.flags&flagNoAuth != 0 {
		f = append(f, "no-auth")
	}
	return f
}

// writeCommandInfo writes one COMMAND entry in Redis 7's ten-element form.
func writeCommandInfo(w *conn, c *command) {
	w.WriteArray(10)
	w.WriteBulkString(c.name)
	w.WriteInt(c.arity)
	flags := commandFlags(c)
	w.WriteArray(len(flags))
	for _, f := range flags {
		w.WriteString(f)
	}
	w.WriteInt(c.first)
	w.WriteInt(c.last)
	w.WriteInt(c.step)
	for range 4 { // ACL categories, tips, key specs, subcommands
		w.WriteArray(0)
	}
}

func sortedCommands() []*command {
	list := make([]*command, 0, len(commands))
	for _, c := range commands {
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *command) int { return strings.Compare(a.name, b.name) })
	return list
}

func cmdCommand(s *Server, c *client, args [][]byte) {
	if len(args) == 1 {
		list := sortedCommands()
		c.out.WriteArray(len(list))
		for _, cmd := range list {
			writeCommandInfo(c.out, cmd)
		}
		return
	}
	switch strings.ToLower(string(args[1])) {
	case "count":
		c.out.WriteInt(len(commands))
	case "list":
		list := sortedCommands()
		c.out.WriteArray(len(list))
		for _, cmd := range list {
			c.out.WriteBulkString(cmd.name)
		}
	case "info":
		c.out.WriteArray(len(args) - 2)
		for _, name := range args[2:] {
			if cmd := lookup(name); cmd != nil {
				writeCommandInfo(c.out, cmd)
			} else {
				c.out.WriteNull()
			}
		}
	case "docs":
		// No documentation; redis-cli then shows no hints.
		c.out.WriteArray(0)
	default:
		c.out.WriteError("ERR unknown subcommand '" + oneLine(string(args[1])) + "'. Try COMMAND HELP.")
	}
}

func cmdInfo(s *Server, c *client, args [][]byte) {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := len(want) == 0 || want["all"] || want["default"] || want["everything"]
	show := func(section string) bool { return all || want[section] }

	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	st := s.backend.Status()
	if show("server") {
		line("# Server")
		line("redis_version:%s", redisVersion)
		line("spook_version:%s", s.cfg.Version)
		line("redis_mode:standalone")
		line("os:%s %s", runtime.GOOS, runtime.GOARCH)
		line("arch_bits:%d", strconv.IntSize)
		line("process_id:%d", os.Getpid())
		line("run_id:%s", st.ID)
		if addr, ok := s.listenAddr().(*net.TCPAddr); ok {
			line("tcp_port:%d", addr.Port)
		}
		line("uptime_in_seconds:%d", int64(time.Since(s.start).Seconds()))
		line("")
	}
	if show("clients") {
		line("# Clients")
		line("connected_clients:%d", s.clients.Load())
		line("maxclients:%d", s.cfg.MaxClients)
		line("blocked_clients:0")
		line("")
	}
	if show("memory") {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		line("# Memory")
		line("used_memory:%d", ms.HeapAlloc) // live heap and not yet collected garbage
		line("used_memory_human:%s", humanBytes(ms.HeapAlloc))
		if rss, ok := residentBytes(); ok {
			line("used_memory_rss:%d", rss)
			line("used_memory_rss_human:%s", humanBytes(rss))
		}
		line("used_memory_go_sys:%d", ms.Sys) // everything the Go runtime obtained from the OS
		line("maxmemory:0")
		line("maxmemory_policy:noeviction")
		line("mem_allocator:%s", runtime.Version())
		line("")
	}
	if show("stats") {
		line("# Stats")
		line("total_connections_received:%d", s.clientID.Load())
		line("expired_keys:0")
		line("evicted_keys:0")
		line("")
	}
	if show("replication") {
		// Every Spook node accepts writes and none is a Redis replica:
		// to a Redis client each is a master without replicas. The
		// spook_ fields say how it really replicates.
		line("# Replication")
		line("role:master")
		line("connected_slaves:0")
		line("master_replid:%s", st.Cluster)
		line("master_repl_offset:%d", vectorSum(st.Applied))
		line("spook_replication:active-active")
		peers, alive := 0, 0
		for _, m := range st.Members {
			if m.State == "self" {
				continue
			}
			line("spook_peer%d:name=%s,addr=%s,region=%s,state=%s,lag_txns=%d", peers, m.Name, m.Addr, m.Region, m.State, m.LagTxns)
			peers++
			if m.State == "alive" {
				alive++
			}
		}
		line("spook_peers:%d", peers)
		line("spook_peers_alive:%d", alive)
		line("spook_collapsed_offset:%d", vectorSum(st.Collapsed))
		line("spook_region:%s", st.Region)
		line("spook_region_collapsed_offset:%d", vectorSum(st.RegionCollapsed))
		line("")
	}
	if show("keyspace") {
		line("# Keyspace")
		n := 0
		_ = s.backend.View(func(ks *crdt.Keyspace) error { n = visibleLen(ks); return nil })
		if n > 0 {
			line("db0:keys=%d,expires=0,avg_ttl=0", n)
		}
		line("")
	}
	if show("spook") {
		line("# Spook")
		line("node_id:%s", st.ID)
		line("node_name:%s", st.Name)
		line("cluster:%s", st.Cluster)
		line("region:%s", st.Region)
		line("state_hash:%s", st.StateHash)
		line("members:%d", len(st.Members))
		for i, m := range st.Members {
			line("member%d:id=%s,name=%s,addr=%s,region=%s,state=%s,lag_txns=%d", i, m.ID, m.Name, m.Addr, m.Region, m.State, m.LagTxns)
		}
		line("applied:%s", vectorText(st.Applied))
		line("collapsed:%s", vectorText(st.Collapsed))
		line("region_collapsed:%s", vectorText(st.RegionCollapsed))
		if st.Failed != "" {
			line("failed:%s", oneLine(st.Failed))
		}
		line("recent_events:%d", len(st.Events))
		for i, e := range st.Events {
			line("event%d:time=%s,type=%s,peer=%s,txn=%s,detail=%s", i, e.Time.UTC().Format(time.RFC3339Nano),
				e.Type, e.Peer, e.Txn, infoValue(e.Detail))
		}
		line("")
	}
	c.out.WriteBulkString(b.String())
}

// vectorSum is the number of transactions a vector covers: a monotonic
// offset for INFO replication.
func vectorSum(v map[string]uint64) uint64 {
	var n uint64
	for _, c := range v {
		n += c
	}
	return n
}

// humanBytes prints n as Redis's used_memory_human does ("1.50M").
func humanBytes(n uint64) string {
	units := "BKMGTPE"
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.2f%c", f, units[i])
}

// residentBytes is the process's resident set size, where the system
// tells it (Linux /proc); false elsewhere.
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}

func (s *Server) listenAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// vectorText prints a vector by node name as "a=3,b=7", sorted by name.
func vectorText(v map[string]uint64) string {
	names := make([]string, 0, len(v))
	for n := range v {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, v[n])
	}
	return strings.Join(parts, ",")
}

func cmdSpookStatus(s *Server, c *client, args [][]byte) {
	b, err := json.Marshal(s.backend.Status())
	if err != nil {
		c.out.WriteError("ERR " + oneLine(err.Error()))
		return
	}
	c.out.WriteBulk(b)
}

// cmdSpookRemoveMember is SPOOK.REMOVEMEMBER name: the operator declares
// a dead member removed so collapse stops waiting for it. It needs a
// backend that implements api.Admin.
func cmdSpookRemoveMember(s *Server, c *client, args [][]byte) {
	admin, ok := s.backend.(api.Admin)
	if !ok {
		c.out.WriteError("ERR SPOOK.REMOVEMEMBER is not supported by this node")
		return
	}
	tok, err := admin.RemoveMember(s.ctx, string(args[1]))
	if err != nil {
		c.out.WriteError(s.errorText(err))
		return
	}
	if !tok.IsZero() {
		c.lastToken = tok // WAIT then waits for the membership change
	}
	c.out.WriteString("OK")
}

// cmdWait is WAIT numreplicas timeout: block until numreplicas other
// members have applied this client's last write (Backend.Wait with
// numreplicas+1 members, this node included) or timeout milliseconds pass
// (0: no timeout), and reply how many other members have it.
func cmdWait(s *Server, c *client, args [][]byte) {
	waitCommand(s, c, args, s.backend.Wait, false)
}

// cmdSpookWaitRegion is SPOOK.WAITREGION numreplicas timeout: WAIT
// counting only the members of this node's region (api.RegionWaiter).
// It replies how many other members of the region have the client's
// last write. WAIT itself keeps counting every member.
func cmdSpookWaitRegion(s *Server, c *client, args [][]byte) {
	rw, ok := s.backend.(api.RegionWaiter)
	if !ok {
		c.out.WriteError("ERR SPOOK.WAITREGION is not supported by this node")
		return
	}
	waitCommand(s, c, args, rw.WaitRegion, true)
}

// waitCommand runs WAIT or SPOOK.WAITREGION with wait, the backend's
// Wait or WaitRegion; region restricts the no-write answer to members of
// this node's region.
func waitCommand(s *Server, c *client, args [][]byte,
	wait func(ctx context.Context, t api.Token, n int) (int, error), region bool) {
	n, err := parseInt(args[1])
	if err != nil {
		c.out.WriteError(string(errNotInteger))
		return
	}
	timeoutMs, err := parseInt(args[2])
	if err != nil {
		c.out.WriteError("ERR timeout is not an integer or out of range")
		return
	}
	if timeoutMs < 0 {
		c.out.WriteError("ERR timeout is negative")
		return
	}
	if c.lastToken.IsZero() {
		// No write to wait for: every reachable member has "it". Answer
		// as many as were asked for, so WAIT 0 0 is 0 as on a Redis
		// without replicas, and WAIT 2 0 is 2 when two are reachable.
		others := 0
		st := s.backend.Status()
		for _, m := range st.Members {
			if (m.State == "alive" || m.State == "suspect") && (!region || m.Region == st.Region) {
				others++
			}
		}
		c.out.WriteInt64(min(int64(others), max(n, 0)))
		return
	}
	ctx := s.ctx
	if timeoutMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeoutMs)*time.Millisecond)
		defer cancel()
	}
	n = max(n, 0)
	got, err := wait(ctx, c.lastToken, int(min(n, 1<<20))+1)
	if err != nil && ctx.Err() == nil {
		c.out.WriteError(s.errorText(err))
		return
	}
	c.out.WriteInt(max(got-1, 0))
}

func cmdMulti(s *Server, c *client, args [][]byte) {
	if c.multi {
		c.out.WriteError("ERR MULTI calls can not be nested")
		return
	}
	c.multi = true
	c.out.WriteString("OK")
}

func cmdExec(s *Server, c *client, args [][]byte) {
	if !c.multi {
		c.out.WriteError("ERR EXEC without MULTI")
		return
	}
	s.exec(c)
}

func cmdDiscard(s *Server, c *client, args [][]byte) {
	if !c.multi {
		c.out.WriteError("ERR DISCARD without MULTI")
		return
	}
	c.resetMulti()
	c.out.WriteString("OK")
}

func cmdWatch(s *Server, c *client, args [][]byte) {
	if c.multi {
		c.out.WriteError("ERR WATCH inside MULTI is not allowed")
		return
	}
	// Optimistic locking cannot hold across replicas that accept writes
	// without coordination; refusing is clearer than a WATCH that only
	// sees local writes.
	c.out.WriteError("ERR WATCH is not supported by Spook (transactions are atomic but not isolated across replicas)")
}

// Keyspace-wide commands. They read the whole keyspace, which a
// transaction builder cannot, so they are not allowed inside MULTI.

// visibleLen is the number of live keys outside the reserved prefix.
func visibleLen(ks *crdt.Keyspace) int {
	n := ks.Len()
	ks.Range([]byte(ReservedPrefix), func(key []byte, _ *crdt.Value) bool {
		if !isReserved(key) {
			return false
		}
		n--
		return true
	})
	return n
}

func cmdDBSize(s *Server, c *client, args [][]byte) {
	n := 0
	if err := s.backend.View(func(ks *crdt.Keyspace) error { n = visibleLen(ks); return nil }); err != nil {
		c.out.WriteError(errorText(err))
		return
	}
	c.out.WriteInt(n)
}

// keysChunk is how many keys KEYS visits per read of the keyspace: the
// node's read lock is let go between chunks, so a KEYS over millions of
// keys never holds back writes and peer messages for long.
const keysChunk = 4096

// cmdKeys walks the keyspace in chunks of keysChunk keys (copying the
// matches), so unlike Redis's KEYS it is not one atomic snapshot: a key
// present for the whole walk is returned, one written or deleted during it
// may or may not be.
func cmdKeys(s *Server, c *client, args [][]byte) {
	pattern := args[1]
	prefix := globPrefix(pattern)
	var keys [][]byte
	from := prefix
	for from != nil {
		err := s.backend.View(func(ks *crdt.Keyspace) error {
			visited := 0
			var next []byte
			var err error
			now := wallMs()
			ks.Range(from, func(key []byte, v *crdt.Value) bool {
				if !bytes.HasPrefix(key, prefix) {
					return false
				}
				if visited == keysChunk {
					next = bytes.Clone(key)
					return false
				}
				visited++
				if isReserved(key) || v.Expired(now) || !globMatch(pattern, key) {
					return true
				}
				if len(keys) == MaxKeysReply {
					err = respErr(fmt.Sprintf("ERR KEYS would return more than %d keys; use SCAN", MaxKeysReply))
					return false
				}
				keys = append(keys, bytes.Clone(key))
				return true
			})
			from = next
			return err
		})
		if err != nil {
			c.out.WriteError(errorText(err))
			return
		}
	}
	out := redcon.AppendArray(c.buf[:0], len(keys))
	for _, k := range keys {
		out = redcon.AppendBulk(out, k)
	}
	c.reply(out)
}

// scanCursors remembers, for the last MaxScanCursors cursors this
// connection was given, the key where each resumes.
type scanCursors struct {
	entries [MaxScanCursors]struct {
		cursor uint64
		next   []byte
	}
	n int // slot the next put overwrites
}

func (sc *scanCursors) find(cursor uint64) ([]byte, bool) {
	for _, e := range sc.entries {
		if e.cursor == cursor && e.next != nil {
			return e.next, true
		}
	}
	return nil, false
}

func (sc *scanCursors) put(cursor uint64, next []byte) {
	sc.entries[sc.n].cursor, sc.entries[sc.n].next = cursor, next
	sc.n = (sc.n + 1) % MaxScanCursors
}

// cmdScan is SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
//
// A cursor is the position, in bytewise key order, of the next key to
// visit. The connection also remembers the resume key of the cursors it
// handed out, so a scan continued on the same connection resumes at that
// key and Redis's guarantee holds: a key present for the whole scan is
// returned at least once, and never twice unless the scan restarts. A
// cursor the connection does not remember (another connection, or more
// than MaxScanCursors scans interleaved) falls back to skipping that many
// keys, which keys deleted or added meanwhile can shift.
func cmdScan(s *Server, c *client, args [][]byte) {
	cursor, err := parseCursor(args[1])
	if err != nil {
		c.out.WriteError(errorText(err))
		return
	}
	var pattern, typ []byte
	count := int64(10)
	for i := 2; i < len(args); i += 2 {
		if i+1 == len(args) {
			c.out.WriteError(string(errSyntax))
			return
		}
		switch strings.ToUpper(string(args[i])) {
		case "MATCH":
			pattern = args[i+1]
		case "COUNT":
			count, err = parseInt(args[i+1])
			if err != nil {
				c.out.WriteError(string(errNotInteger))
				return
			}
			if count < 1 {
				c.out.WriteError(string(errSyntax))
				return
			}
		case "TYPE":
			typ = bytes.ToLower(args[i+1])
		default:
			c.out.WriteError(string(errSyntax))
			return
		}
	}
	count = min(count, MaxScanCount)
	from, resumed := c.scan.find(cursor)
	skip := uint64(0)
	if !resumed && cursor != 0 {
		skip = cursor
	}
	var keys [][]byte
	var next []byte
	visited := uint64(0)
	err = s.backend.View(func(ks *crdt.Keyspace) error {
		now := wallMs()
		ks.Range(from, func(key []byte, v *crdt.Value) bool {
			if isReserved(key) {
				return true
			}
			if skip > 0 {
				skip--
				return true
			}
			if visited == uint64(count) {
				next = bytes.Clone(key)
				return false
			}
			visited++
			if v.Expired(now) || (pattern != nil && !globMatch(pattern, key)) {
				return true
			}
			if typ != nil && typeName(v) != string(typ) {
				return true
			}
			keys = append(keys, bytes.Clone(key))
			return true
		})
		return nil
	})
	if err != nil {
		c.out.WriteError(errorText(err))
		return
	}
	nextCursor := uint64(0)
	if next != nil {
		nextCursor = cursor + visited // the position of next
		c.scan.put(nextCursor, next)
	}
	c.out.WriteArray(2)
	c.out.WriteBulkString(strconv.FormatUint(nextCursor, 10))
	c.out.WriteArray(len(keys))
	for _, k := range keys {
		c.out.WriteBulk(k)
	}
}

// cmdFlushAll is FLUSHALL/FLUSHDB [ASYNC|SYNC]: an observed-remove delete
// of every visible key. Up to crdt.MaxTxnKeys keys go in one transaction;
// a larger keyspace is flushed in several transactions, in key order, so
// the flush is atomic only up to that many keys (see docs/api.md). A key
// written concurrently survives, as with DEL.
func cmdFlushAll(s *Server, c *client, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !bytes.EqualFold(args[1], []byte("ASYNC")) && !bytes.EqualFold(args[1], []byte("SYNC"))) {
		c.out.WriteError(string(errSyntax))
		return
	}
	var from []byte
	for {
		keys := make([][]byte, 0, 64)
		err := s.backend.View(func(ks *crdt.Keyspace) error {
			ks.Range(from, func(key []byte, _ *crdt.Value) bool {
				if !isReserved(key) {
					keys = append(keys, bytes.Clone(key))
				}
				return len(keys) < crdt.MaxTxnKeys
			})
			return nil
		})
		if err == nil && len(keys) > 0 {
			var tok api.Token
			tok, err = s.backend.Update(c.ctx, func(tx *crdt.Builder) error {
				for _, k := range keys {
					if tx.Get(k) == nil {
						// An expired key is reclaimed on the way.
						if _, err := tx.Reclaim(k); err != nil {
							return err
						}
						continue
					}
					if err := tx.Delete(k); err != nil {
						return err
					}
				}
				return nil
			})
			if !tok.IsZero() {
				c.lastToken = tok
			}
		}
		if err != nil {
			c.out.WriteError(s.errorText(err))
			return
		}
		if len(keys) < crdt.MaxTxnKeys {
			break
		}
		from = append(keys[len(keys)-1], 0) // the next key after the last
	}
	c.out.WriteString("OK")
}

// infoValue makes free text safe for an INFO field: one line, no commas
// (they separate an INFO line's fields).
func infoValue(s string) string {
	return strings.ReplaceAll(oneLine(s), ",", ";")
}
