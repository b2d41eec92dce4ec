// Command spook is Spook's command-line tool: it starts local clusters,
// runs the simulator, and talks to a node over its HTTP API.
//
// Each subcommand lives in its own file and registers itself in an init
// function:
//
//	func init() { register("sim", "run the deterministic simulator", runSim) }
//
// where runSim has the signature func(args []string) error and parses its
// own flags (a flag.FlagSet named after the subcommand, so --help works).
package main
