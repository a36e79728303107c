// Package parity compares two traces of one model's forward pass and says
// where and how much they differ: element-wise metrics per capture point
// (NMSE, cosine, SQNR, max abs, relative L2, and the std ratio the upstream
// contract uses), the first divergence in forward order, the error each
// layer adds by itself against the error it inherits (teacher forcing with
// engine.ReplayLayer), logits agreement as llama-perplexity's KL-divergence
// mode reports it, and a noise floor to read all of these against.
//
// Conventions, the same as the contracts' metric gates:
//
//   - B is the reference. NMSE is sum((a-b)^2)/sum(b^2), the std ratio is
//     std(A)/std(B), KL divergence is KL(B||A), and teacher forcing feeds
//     B's layer inputs to A's layers (the subject under test replayed on
//     the reference's input).
//   - Comparisons are taken over matched samples only: the last position
//     (PositionsLast, statistics of the last_token sample) or every
//     position (PositionsAll, all_tokens). Traces whose tokens, layer
//     counts, sample counts or vector shapes differ are refused with a
//     *MismatchError (wrapping ErrMismatch or ErrMissingPositions), never
//     compared: capture-points.md explains how such comparisons misled
//     the upstream project.
//   - Every sum is accumulated in float64 (internal/numcmp).
//
// The package knows nothing about contracts or gates: the harness turns
// its numbers into verdicts, and `falsify diff` prints them.
package parity
