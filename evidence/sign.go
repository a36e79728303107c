package evidence

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/falsify/falsify/internal/mmapfile"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Signing: a run's report can be signed so that evidence moved between
// pipeline jobs cannot be edited consistently (record, digest and report
// together) without the key. The signature is a DSSE envelope (ed25519)
// around an in-toto Statement v1 whose subjects are the run report and
// every gate record it lists, each with its sha256, written next to the
// report as DIR/run-<run-id>.dsse (not .json, so Load does not read it).
const (
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is the in-toto statement's _type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType names what the statement says about its subjects.
	PredicateType = "https://github.com/falsify/falsify/evidence/run/v1"
)

// ErrSignature wraps every reason a run's signature does not verify.
var ErrSignature = errors.New("signature")

// SignaturePath is a run's envelope path relative to the evidence
// directory.
func SignaturePath(runID string) string { return "run-" + runID + ".dsse" }

// Statement is the in-toto statement a run's envelope carries.
type Statement struct {
	Type          string            `json:"_type"`
	Subject       []StatementDigest `json:"subject"`
	PredicateType string            `json:"predicateType"`
	Predicate     RunPredicate      `json:"predicate"`
}

// StatementDigest is one signed file: its path relative to the evidence
// directory and its sha256.
type StatementDigest struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// RunPredicate is what the signer asserts about the run.
type RunPredicate struct {
	RunID  string `json:"run_id"`
	Status string `json:"status"`
	Counts Counts `json:"counts"`
}

// LoadSigningKey reads an ed25519 private key: PEM "PRIVATE KEY" (PKCS #8,
// as `openssl genpkey -algorithm ed25519` writes it).
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: a %T, want an ed25519 key", path, k)
	}
	return priv, nil
}

// LoadVerifyKey reads an ed25519 public key: PEM "PUBLIC KEY" (PKIX, as
// `openssl pkey -pubout` writes it).
func LoadVerifyKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("verify key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("verify key %s: a %T, want an ed25519 key", path, k)
	}
	return pub, nil
}

func readPEM(path, want string) ([]byte, error) {
	data, err := readRegular(path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("key %s: no PEM block (want %q)", path, want)
	}
	if b.Type != want {
		return nil, fmt.Errorf("key %s: PEM block %q, want %q", path, b.Type, want)
	}
	return b.Bytes, nil
}

type edSigner struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	id   string
}

func newEdSigner(pub ed25519.PublicKey, priv ed25519.PrivateKey) (*edSigner, error) {
	id, err := dsse.SHA256KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &edSigner{priv: priv, pub: pub, id: id}, nil
}

func (s *edSigner) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(s.priv, data), nil
}

func (s *edSigner) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(s.pub, data, sig) {
		return errors.New("ed25519 signature does not verify")
	}
	return nil
}

func (s *edSigner) KeyID() (string, error)   { return s.id, nil }
func (s *edSigner) Public() crypto.PublicKey { return s.pub }

// SignRun signs the run report r, as written in dir, and the gate records
// it lists, writing the envelope to dir/run-<id>.dsse; it returns the path.
// Sign after the report is complete: the envelope covers its bytes.
func SignRun(dir string, r *RunReport, key ed25519.PrivateKey) (string, error) {
	st := Statement{Type: StatementType, PredicateType: PredicateType,
		Predicate: RunPredicate{RunID: r.RunID, Status: r.Status, Counts: r.Counts}}
	sum, err := fileSHA256(filepath.Join(dir, RunPath(r.RunID)))
	if err != nil {
		return "", fmt.Errorf("sign run %s: %w", r.RunID, err)
	}
	st.Subject = append(st.Subject, StatementDigest{Name: RunPath(r.RunID), Digest: map[string]string{"sha256": sum}})
	for _, g := range r.Gates {
		st.Subject = append(st.Subject, StatementDigest{Name: g.File, Digest: map[string]string{"sha256": g.SHA256}})
	}
	body, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	s, err := newEdSigner(key.Public().(ed25519.PublicKey), key)
	if err != nil {
		return "", err
	}
	es, err := dsse.NewEnvelopeSigner(s)
	if err != nil {
		return "", err
	}
	env, err := es.SignPayload(context.Background(), PayloadType, body)
	if err != nil {
		return "", fmt.Errorf("sign run %s: %w", r.RunID, err)
	}
	data, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, SignaturePath(r.RunID))
	if err := WriteFileAtomic(path, append(data, '\n')); err != nil {
		return "", fmt.Errorf("sign run %s: %w", r.RunID, err)
	}
	return path, nil
}

// verifyRunSignature checks r's envelope with pub: present, signed by the
// key, an in-toto statement of this run whose digest of the run report
// matches the file, and whose record digests are the ones the report
// lists (which Verify checks against the record files).
func verifyRunSignature(r *RunReport, pub ed25519.PublicKey) error {
	dir := r.runDir()
	path := filepath.Join(dir, SignaturePath(r.RunID))
	data, err := readRegular(path, maxRecordBytes)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%w: run %s is not signed (no %s)", ErrSignature, r.RunID, SignaturePath(r.RunID))
		}
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	var env dsse.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("%w: %s is not a DSSE envelope: %v", ErrSignature, path, err)
	}
	if env.PayloadType != PayloadType {
		return fmt.Errorf("%w: %s: payload type %q, want %q", ErrSignature, path, env.PayloadType, PayloadType)
	}
	v, err := newEdSigner(pub, nil)
	if err != nil {
		return err
	}
	ev, err := dsse.NewEnvelopeVerifier(v)
	if err != nil {
		return err
	}
	_, body, err := ev.VerifyAndDecode(context.Background(), &env)
	if err != nil {
		return fmt.Errorf("%w: %s does not verify with the given key (signed by another key, or edited): %v", ErrSignature, path, err)
	}
	var st Statement
	if err := json.Unmarshal(body, &st); err != nil || st.Type != StatementType || st.PredicateType != PredicateType {
		return fmt.Errorf("%w: %s: the signed payload is not a falsify run statement", ErrSignature, path)
	}
	if st.Predicate.RunID != r.RunID {
		return fmt.Errorf("%w: %s signs run %s, not %s", ErrSignature, path, st.Predicate.RunID, r.RunID)
	}
	signed := map[string]string{}
	for _, s := range st.Subject {
		signed[s.Name] = s.Digest["sha256"]
	}
	sum, err := fileSHA256(r.source)
	if err != nil {
		return err
	}
	if signed[RunPath(r.RunID)] != sum {
		return fmt.Errorf("%w: %s: the run report's sha256 %s is not the signed %s: the report was changed after signing", ErrSignature, filepath.Base(r.source), short(sum), short(signed[RunPath(r.RunID)]))
	}
	var unsigned []string
	for _, g := range r.Gates {
		if signed[g.File] != g.SHA256 {
			unsigned = append(unsigned, g.File)
		}
	}
	if len(unsigned) > 0 || len(signed) != len(r.Gates)+1 {
		return fmt.Errorf("%w: %s: the records the report lists are not the ones signed (%s)", ErrSignature, path, strings.Join(unsigned, ", "))
	}
	return nil
}

// PublicKeyPEM returns pub as a PEM "PUBLIC KEY" block (for tests and
// key set-up).
func PublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PrivateKeyPEM returns priv as a PEM "PRIVATE KEY" block (PKCS #8).
func PrivateKeyPEM(priv ed25519.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// KeyFingerprint is the sha256 of a public key's PKIX encoding, in hex.
func KeyFingerprint(pub ed25519.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// readRegular reads at most limit bytes of a regular file; a named pipe,
// socket or device is refused rather than opened (opening a FIFO blocks
// until a writer comes, which would hang a release gate).
func readRegular(path string, limit int64) ([]byte, error) {
	f, err := mmapfile.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}
