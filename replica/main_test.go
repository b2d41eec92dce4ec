package replica

import "flag"

// rewrite regenerates golden files: go test ./replica -rewrite.
var rewrite = flag.Bool("rewrite", false, "rewrite golden script outputs and the fuzz seed corpus")
