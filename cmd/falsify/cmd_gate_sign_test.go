package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/evidence"
)

func writeKeys(t *testing.T) (priv, pub string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pub.pem")
	if err := os.WriteFile(priv, evidence.PrivateKeyPEM(sk), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, evidence.PublicKeyPEM(pk), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// TestGateSignedEvidence: a signed run passes `gate --verify-key`; a
// consistent forgery (a record edited and its digest fixed in the run
// report) passes the digest checks, as the threat model says, but not the
// signature; unsigned evidence and another key are refused.
func TestGateSignedEvidence(t *testing.T) {
	priv, pub := writeKeys(t)
	_, otherPub := writeKeys(t)
	dir := t.TempDir()
	if out, errs, code := runCLI(t, "run", "--sign-key", priv, "--evidence", dir, "trace-determinism-v1"); code != 0 {
		t.Fatalf("run --sign-key: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := falsifyCLI(t, "gate", "--verify-key", pub, dir); code != 0 {
		t.Fatalf("signed evidence: exit %d\n%s", code, errs)
	}
	wantGateFails(t, []string{"--verify-key", otherPub, dir}, "does not verify with the given key")

	// The forger edits a measured value (still inside its band) and fixes
	// the digest the run report lists.
	runs, _ := filepath.Glob(filepath.Join(dir, "run-*.json"))
	if len(runs) != 1 {
		t.Fatalf("run reports: %v", runs)
	}
	rec := filepath.Join(dir, "trace-determinism-v1", "FALSIFY-TRACE-DETERMINISM-001.json")
	var g evidence.GateRecord
	readJSON(t, rec, &g)
	g.Reason = "forged"
	g.Measurements[0].Name = "forged_" + g.Measurements[0].Name
	writeJSON(t, rec, &g)
	var rep evidence.RunReport
	readJSON(t, runs[0], &rep)
	for i := range rep.Gates {
		if rep.Gates[i].GateID == g.GateID {
			rep.Gates[i].SHA256 = sha256File(t, rec)
		}
	}
	writeJSON(t, runs[0], &rep)
	if _, errs, code := falsifyCLI(t, "gate", dir); code != 0 {
		t.Fatalf("the consistent forgery should pass the unsigned checks (or the threat model is wrong): exit %d\n%s", code, errs)
	}
	wantGateFails(t, []string{"--verify-key", pub, dir}, filepath.Base(runs[0])+": signature: "+filepath.Base(runs[0])+": the run report's sha256", "changed after signing")

	// Unsigned evidence.
	plain := t.TempDir()
	writeEvidence(t, plain, "r1", gateT0, gateIDs(1, evidence.Pass))
	wantGateFails(t, []string{"--verify-key", pub, plain}, "run r1 is not signed (no run-r1.dsse)")

	if _, errs, code := falsifyCLI(t, "gate", "--verify-key", priv, plain); code == 0 || !strings.Contains(errs, `want "PUBLIC KEY"`) {
		t.Errorf("a private key as --verify-key: exit %d, %s", code, errs)
	}
}
