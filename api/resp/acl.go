package resp

import "strings"

// cmdACL is ACL, of which Spook serves what a client asks about itself:
// WHOAMI (the user the connection authenticated as, api.DefaultUser
// when no credential is configured) and HELP. Users are not managed
// over the protocol: they come from the node's users file (spookd
// --users), and what they may write from the write-rights policy
// (docs/audit.md).
func cmdACL(s *Server, c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch {
	case sub == "whoami" && len(args) == 2:
		c.out.WriteBulkString(c.user)
	case sub == "help" && len(args) == 2:
		c.out.WriteRaw(appendHelp(nil, aclHelp))
	case sub == "whoami" || sub == "help":
		c.out.WriteError("ERR wrong number of arguments for 'acl|" + sub + "' command")
	default:
		c.out.WriteError("ERR unknown subcommand '" + oneLine(string(args[1])) + "'. Try ACL HELP.")
	}
}

// aclHelp is ACL HELP's reply: the subcommands Spook serves.
var aclHelp = []string{
	"ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"WHOAMI",
	"    Return the current connection username.",
	"HELP",
	"    Print this help.",
}
