package chaos

import (
	"strings"
	"testing"
	"time"
)

// These tests feed checkHistory small hand-made histories and final states
// and assert that each broken guarantee is counted where it belongs (and
// that a clean run counts nothing). They need no namespaces and run in
// every `go test`.

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// cleanInput is a history every check accepts, on two nodes.
func cleanInput() checkInput {
	history := []op{
		{Session: 1, Host: 1, Node: "n1", Kind: opIncr, Key: "ctr:0", Outcome: outcomeOK, Start: ms(1), End: ms(2)},
		{Session: 1, Host: 1, Node: "n1", Kind: opIncr, Key: "ctr:0", Outcome: outcomeTimeout, Start: ms(3), End: ms(4)},
		{Session: 2, Host: 2, Node: "n2", Kind: opIncr, Key: "ctr:0", Outcome: outcomeOK, Start: ms(3), End: ms(5)},
		{Session: 1, Host: 1, Node: "n1", Kind: opSAdd, Key: "set:0", Value: "s1.4", Outcome: outcomeOK, Start: ms(5), End: ms(6)},
		{Session: 1, Host: 1, Node: "n1", Kind: opSAdd, Key: "set:0", Value: "s1.5", Outcome: outcomeOK, Start: ms(7), End: ms(8)},
		{Session: 1, Host: 1, Node: "n1", Kind: opSRem, Key: "set:0", Value: "s1.5", Outcome: outcomeOK, Start: ms(9), End: ms(10)},
		{Session: 2, Host: 2, Node: "n2", Kind: opSet, Key: "reg:s2:3", Value: "s2.3", Outcome: outcomeOK, Start: ms(6), End: ms(7)},
		{Session: 2, Host: 2, Node: "n2", Kind: opSetOwn, Key: "own:s2", Value: "1", Outcome: outcomeOK, Start: ms(8), End: ms(9)},
		{Session: 2, Host: 2, Node: "n2", Kind: opSetOwn, Key: "own:s2", Value: "2", Outcome: outcomeTimeout, Start: ms(10), End: ms(11)},
		{Session: 2, Host: 2, Node: "n2", Kind: opTxn, Key: "txn:0", Keys: []string{"txn:0:a", "txn:0:b", "txn:0:c", "txnu:s2:5"},
			Value: "s2.5", Outcome: outcomeOK, Start: ms(12), End: ms(13)},
		{Session: 1, Host: 1, Node: "n1", Kind: opCollapse, Key: "col:s1:9", Value: "s1.9", Outcome: outcomeOK, Collapsed: true, Start: ms(14), End: ms(15)},
	}
	state := func(node string) nodeState {
		return nodeState{Node: node, Hash: "h",
			Values: map[string]string{"reg:s2:3": "s2.3", "own:s2": "2", "txn:0:a": "s2.5", "txn:0:b": "s2.5",
				"txn:0:c": "s2.5", "txnu:s2:5": "s2.5", "col:s1:9": "s1.9"},
			Counters: map[string]int64{"ctr:0": 3},
			Sets:     map[string]map[string]bool{"set:0": {"s1.4": true}},
		}
	}
	// The two timeouts happened while their hosts were paused.
	down := []window{{Host: 1, From: ms(3), To: ms(4), What: "pause(1)"}, {Host: 2, From: ms(10), To: ms(11), What: "pause(2)"}}
	return checkInput{History: history, Final: []nodeState{state("n1"), state("n2")}, Removed: map[string]bool{}, Down: down,
		Hosts: []int{1, 2}, TxnKeys: map[string][]string{"txn:0": {"txn:0:a", "txn:0:b", "txn:0:c"}}}
}

func TestCheckHistoryAcceptsACleanRun(t *testing.T) {
	r := checkHistory(cleanInput())
	if r.failed() {
		t.Fatalf("clean run failed: %+v", r)
	}
	if r.Ops != 11 || r.Acked != 9 || r.Maybe != 2 || r.Collapsed != 1 {
		t.Fatalf("figures: ops %d acked %d maybe %d collapsed %d", r.Ops, r.Acked, r.Maybe, r.Collapsed)
	}
}

func TestCheckHistoryCountsEachBrokenGuarantee(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(in *checkInput)
		field func(r report) int
		want  int
		text  string
	}{
		{"lost register write on one node", func(in *checkInput) { delete(in.Final[1].Values, "reg:s2:3") },
			func(r report) int { return r.Lost }, 1, "n2: lost"},
		{"register overwritten by an unknown value", func(in *checkInput) { in.Final[0].Values["reg:s2:3"] = "x" },
			func(r report) int { return r.Lost }, 1, "lost"},
		{"counter below the acknowledged sum", func(in *checkInput) { in.Final[0].Counters["ctr:0"] = 1 },
			func(r report) int { return r.Lost }, 1, "below 2 acknowledged"},
		{"counter above acknowledged plus maybe", func(in *checkInput) { in.Final[0].Counters["ctr:0"] = 4 },
			func(r report) int { return r.Phantom }, 1, "above 2 acknowledged + 1 maybe"},
		{"acknowledged add missing", func(in *checkInput) { delete(in.Final[0].Sets["set:0"], "s1.4") },
			func(r report) int { return r.Lost }, 1, "lost"},
		{"removed member back", func(in *checkInput) { in.Final[0].Sets["set:0"]["s1.5"] = true },
			func(r report) int { return r.Phantom }, 1, "removed member back"},
		{"member never added", func(in *checkInput) { in.Final[1].Sets["set:0"]["zz"] = true },
			func(r report) int { return r.Phantom }, 1, "never added"},
		{"transaction seen in part", func(in *checkInput) { delete(in.Final[0].Values, "txn:0:b") },
			func(r report) int { return r.Atomicity }, 1, "transaction group txn:0"},
		{"transaction keys disagree", func(in *checkInput) { in.Final[1].Values["txn:0:c"] = "s9.9" },
			func(r report) int { return r.Atomicity }, 1, "txn:0"},
		{"transaction's own key lost", func(in *checkInput) { delete(in.Final[0].Values, "txnu:s2:5") },
			func(r report) int { return r.Lost }, 1, "txnu:s2:5"},
		{"own register behind its acknowledged write", func(in *checkInput) { in.Final[0].Values["own:s2"] = "0" },
			func(r report) int { return r.Lost }, 1, "acknowledged 1"},
		{"own register ahead of every write", func(in *checkInput) { in.Final[0].Values["own:s2"] = "3" },
			func(r report) int { return r.Phantom }, 1, "highest written 2"},
		{"collapsed write missing", func(in *checkInput) { delete(in.Final[1].Values, "col:s1:9") },
			func(r report) int { return r.Lost }, 1, "col:s1:9"},
		{"collapsed write of a removed node missing", func(in *checkInput) {
			in.Removed["n1"] = true
			delete(in.Final[1].Values, "col:s1:9")
		}, func(r report) int { return r.Lost }, 1, "col:s1:9"},
		{"write of a removed node that had reached the cluster", func(in *checkInput) {
			in.Removed["n2"] = true
			in.History[6].Reached = true
			delete(in.Final[0].Values, "reg:s2:3")
		}, func(r report) int { return r.Lost }, 1, "reg:s2:3"},
		{"hashes differ", func(in *checkInput) { in.Final[1].Hash = "other" },
			func(r report) int { return r.Divergent }, 1, "state hash"},
		{"write refused on an up host", func(in *checkInput) { in.History[0].Outcome = outcomeFail },
			func(r report) int { return r.Unavailable }, 1, "refused on an up host"},
		{"no write on an up host during a partition", func(in *checkInput) {
			in.Faults = []window{{From: ms(100), To: ms(200), What: "isolate(1)"}}
		}, func(r report) int { return r.Unavailable }, 2, "acknowledged no write during isolate(1)"},
		{"bounded counter below its floor at the end", func(in *checkInput) { in.Final[1].BCounter = -1 },
			func(r report) int { return r.BCounter }, 1, "below the floor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := cleanInput()
			c.edit(&in)
			r := checkHistory(in)
			if got := c.field(r); got != c.want {
				t.Fatalf("counted %d, want %d: %+v", got, c.want, r)
			}
			if !r.failed() {
				t.Fatal("report does not fail")
			}
			if !strings.Contains(strings.Join(r.Problems, "\n"), c.text) {
				t.Fatalf("problems do not mention %q:\n%s", c.text, strings.Join(r.Problems, "\n"))
			}
		})
	}
}

func TestCheckHistoryExcusesWhatFaultsAllow(t *testing.T) {
	t.Run("refused while down", func(t *testing.T) {
		in := cleanInput()
		in.History[0].Outcome = outcomeFail
		in.Final[0].Counters["ctr:0"], in.Final[1].Counters["ctr:0"] = 2, 2
		in.Down = append(in.Down, window{Host: 1, From: ms(0), To: ms(2), What: "kill(1)"})
		if r := checkHistory(in); r.failed() {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("partition with writes on every host", func(t *testing.T) {
		in := cleanInput()
		in.Faults = []window{{From: ms(4), To: ms(8), What: "split(1|2)"}}
		if r := checkHistory(in); r.failed() {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("write of a removed node gone with it", func(t *testing.T) {
		in := cleanInput()
		in.Removed["n2"] = true
		for i := range in.Final {
			delete(in.Final[i].Values, "reg:s2:3")
			in.Final[i].Counters["ctr:0"] = 1 // n2's acknowledged increment never left it
		}
		r := checkHistory(in)
		if r.failed() {
			t.Fatalf("%+v", r)
		}
		if r.Orphaned != 1 {
			t.Fatalf("orphaned %d, want 1 (the register; the increment is allowed too but not counted)", r.Orphaned)
		}
	})
}

func TestParseFaults(t *testing.T) {
	kinds, err := parseFaults("pause, kill,remove")
	if err != nil || len(kinds) != 3 || kinds[0] != faultPause || kinds[1] != faultKill || kinds[2] != faultRemove {
		t.Fatalf("%v %v", kinds, err)
	}
	if _, err := parseFaults("pause,melt"); err == nil || !strings.Contains(err.Error(), `"melt"`) {
		t.Fatalf("unknown fault accepted: %v", err)
	}
}

func TestStaleNamesMatchOnlyThisPackage(t *testing.T) {
	for name, want := range map[string]bool{"spk123-h4": true, "spk123-h": false, "spkx-h1": false, "ns1": false, "spk123-h4x": false} {
		if got := nsPattern.MatchString(name); got != want {
			t.Errorf("namespace %q: %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string]bool{"spk9br": true, "spk9v12": true, "spk9": false, "eth0": false, "spk9vx": false} {
		if got := linkPattern.MatchString(name); got != want {
			t.Errorf("link %q: %v, want %v", name, got, want)
		}
	}
}
