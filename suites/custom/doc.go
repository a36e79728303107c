// Package custom runs the user's own contracts: every *.yaml file named by
// $FALSIFY_CONTRACTS (a file, a directory, or several separated by the
// path-list separator). Unset, it holds one skipped spec saying so.
//
//	FALSIFY_CONTRACTS=./my-contracts ginkgo ./suites/custom
package custom
