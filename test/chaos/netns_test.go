package chaos

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// Naming: every namespace and link this package creates starts with
// namePrefix followed by the creating process's pid, so a later run can
// tell its own leftovers (pid no longer alive) from a concurrent run's.
const (
	namePrefix = "spk"
	// subnetFirst and subnetOctets: hosts live in 10.213.X.0/24 with X in
	// [subnetFirst, subnetFirst+subnetOctets), picked from the pid. That
	// range exists only on the bridge and in the namespaces we create.
	subnetFirst  = 20
	subnetOctets = 200
	// bridgeHostByte is the last byte of the root namespace's address on
	// the bridge (the test process's way into every host).
	bridgeHostByte = 254
	// MaxHosts bounds the hosts of one network (host bytes 1..MaxHosts).
	MaxHosts = 16
)

var (
	nsPattern   = regexp.MustCompile(`^` + namePrefix + `([0-9]+)-h[0-9]+$`)
	linkPattern = regexp.MustCompile(`^` + namePrefix + `([0-9]+)(br|v[0-9]+)$`)
)

// errNoNetns is why the package skips: not root, or no working `ip netns`.
var errNoNetns = errors.New("chaos: needs root and a working `ip netns` (iproute2)")

// netnsAvailable reports whether this process can create namespaces.
func netnsAvailable() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: running as uid %d", errNoNetns, os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("%w: %v", errNoNetns, err)
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: ip netns list: %v: %s", errNoNetns, err, out)
	}
	return nil
}

// ip runs one iproute2 command and returns its error with its output.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// pidAlive reports whether a process with this pid exists.
func pidAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM)
}

// sweepStale removes namespaces and links left by earlier runs of this
// package whose process is gone, first killing (by pid) whatever still
// runs inside those namespaces: only spookd processes this package
// started. It returns what it removed, for the log.
func sweepStale() []string {
	var removed []string
	out, _ := exec.Command("ip", "netns", "list").Output()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		m := nsPattern.FindStringSubmatch(fields[0])
		if m == nil {
			continue
		}
		if pid, _ := strconv.Atoi(m[1]); pidAlive(pid) {
			continue
		}
		pids, _ := exec.Command("ip", "netns", "pids", fields[0]).Output()
		for _, p := range strings.Fields(string(pids)) {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if ip("netns", "del", fields[0]) == nil {
			removed = append(removed, fields[0])
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	sc = bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "7: spk123v1@if2: <BROADCAST,...>"
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(fields[1], ":"), "@")
		m := linkPattern.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		if pid, _ := strconv.Atoi(m[1]); pidAlive(pid) {
			continue
		}
		if ip("link", "del", name) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// network is a bridge in the root namespace and one namespace per host,
// each joined to the bridge by a veth pair. The root namespace holds an
// address on the bridge, so the test process reaches every host directly;
// partitions are blackhole routes inside host namespaces, between hosts
// only, so a host always stays reachable from the test process.
type network struct {
	prefix string // namePrefix + pid
	subnet string // "10.213.X."
	bridge string
	hosts  []*host
}

// host is one network namespace with one address.
type host struct {
	index int    // 1-based
	ns    string // namespace name
	veth  string // the root-side end of its veth pair
	ip    net.IP
	// cut holds the host indexes this host's outbound traffic is
	// blackholed to.
	cut map[int]bool
}

// newNetwork creates the bridge and n hosts. On error it removes what it
// made. The caller must call close.
func newNetwork(n int) (*network, error) {
	if n < 1 || n > MaxHosts {
		return nil, fmt.Errorf("chaos: %d hosts, want 1..%d", n, MaxHosts)
	}
	pid := os.Getpid()
	nw := &network{prefix: fmt.Sprintf("%s%d", namePrefix, pid)}
	nw.bridge = nw.prefix + "br"
	octet, err := freeSubnet(pid)
	if err != nil {
		return nil, err
	}
	nw.subnet = fmt.Sprintf("10.213.%d.", octet)
	if err := nw.create(n); err != nil {
		nw.close()
		return nil, err
	}
	return nw, nil
}

// freeSubnet picks the third octet for this run: derived from the pid,
// moved on while the root namespace already has an address there.
func freeSubnet(pid int) (int, error) {
	out, err := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	if err != nil {
		return 0, fmt.Errorf("chaos: ip addr: %v", err)
	}
	for i := 0; i < subnetOctets; i++ {
		octet := subnetFirst + (pid+i)%subnetOctets
		if !bytes.Contains(out, []byte(fmt.Sprintf(" 10.213.%d.", octet))) {
			return octet, nil
		}
	}
	return 0, errors.New("chaos: no free 10.213.X.0/24 subnet")
}

func (nw *network) create(n int) error {
	steps := [][]string{
		{"link", "add", nw.bridge, "type", "bridge"},
		{"addr", "add", nw.subnet + strconv.Itoa(bridgeHostByte) + "/24", "dev", nw.bridge},
		{"link", "set", nw.bridge, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	for i := 1; i <= n; i++ {
		h := &host{index: i, ns: fmt.Sprintf("%s-h%d", nw.prefix, i), veth: fmt.Sprintf("%sv%d", nw.prefix, i),
			ip: net.ParseIP(nw.subnet + strconv.Itoa(i)).To4(), cut: map[int]bool{}}
		nw.hosts = append(nw.hosts, h)
		steps := [][]string{
			{"netns", "add", h.ns},
			{"link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns},
			{"link", "set", h.veth, "master", nw.bridge, "up"},
			{"-n", h.ns, "addr", "add", h.ip.String() + "/24", "dev", "eth0"},
			{"-n", h.ns, "link", "set", "eth0", "up"},
			{"-n", h.ns, "link", "set", "lo", "up"},
		}
		for _, s := range steps {
			if err := ip(s...); err != nil {
				return err
			}
		}
	}
	return nil
}

// host returns host i (1-based).
func (nw *network) host(i int) *host { return nw.hosts[i-1] }

// cutOneWay blackholes traffic from host a to host b (b's packets still
// reach a; a's replies do not reach b).
func (nw *network) cutOneWay(a, b int) error {
	h := nw.host(a)
	if a == b || h.cut[b] {
		return nil
	}
	if err := ip("-n", h.ns, "route", "add", "blackhole", nw.host(b).ip.String()+"/32"); err != nil {
		return err
	}
	h.cut[b] = true
	return nil
}

// cut blackholes traffic between hosts a and b both ways.
func (nw *network) cut(a, b int) error {
	if err := nw.cutOneWay(a, b); err != nil {
		return err
	}
	return nw.cutOneWay(b, a)
}

// isolate cuts host a from every other host (the root namespace still
// reaches it).
func (nw *network) isolate(a int) error {
	for _, h := range nw.hosts {
		if err := nw.cut(a, h.index); err != nil {
			return err
		}
	}
	return nil
}

// healHost removes every blackhole route in host a's namespace and every
// route of other hosts towards a.
func (nw *network) healHost(a int) error {
	var errs []error
	for _, h := range nw.hosts {
		for b := range h.cut {
			if h.index == a || b == a {
				if err := ip("-n", h.ns, "route", "del", "blackhole", nw.host(b).ip.String()+"/32"); err != nil {
					errs = append(errs, err)
					continue
				}
				delete(h.cut, b)
			}
		}
	}
	return errors.Join(errs...)
}

// heal removes every blackhole route.
func (nw *network) heal() error {
	var errs []error
	for _, h := range nw.hosts {
		if err := nw.healHost(h.index); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// pids lists the processes running in host a's namespace.
func (nw *network) pids(a int) []int {
	out, _ := exec.Command("ip", "netns", "pids", nw.host(a).ns).Output()
	var pids []int
	for _, p := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(p); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// close kills (by pid) anything still running in the hosts' namespaces —
// only processes this package started — and removes the namespaces, the
// veth pairs (which go with them) and the bridge.
func (nw *network) close() error {
	var errs []error
	for _, h := range nw.hosts {
		for _, pid := range nw.pids(h.index) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if err := ip("netns", "del", h.ns); err != nil {
			errs = append(errs, err)
		}
		ip("link", "del", h.veth) // normally gone with the namespace
	}
	if err := ip("link", "del", nw.bridge); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
