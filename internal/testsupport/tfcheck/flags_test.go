package tfcheck_test

import "flag"

// update rewrites what the tests generate (the deployer role lists in docs/,
// the schema lock) from the current files, after checking them.
var update = flag.Bool("update", false, "rewrite the generated deployer role lists and the schema lock")
