// Package digest gives a file's SHA-256 without reading the file again
// while it is unchanged: model files of several GB are hashed on every
// `falsify run` and `falsify trace` (provenance, sha256 pins, the APR
// conversion cache key), which cost more than the forward passes at 7B.
//
// Besides the SHA-256 (SHA256), the cache keeps other facts computed from
// a file's bytes under a kind name (Lookup, Store): engine stores there the
// APR footer CRC it verified, so an unchanged APR file is verified once.
//
// A digest is stored in the falsify cache directory (Dir) under the file's
// absolute path, with the file's identity as the kernel reports it: device,
// inode, size, modification time and change time (ns). A stored digest is
// used only while all five still match; otherwise the file is read and
// hashed again (the cache is cold for it) and the entry rewritten. The
// change time is what makes this safe: a write that keeps the size and
// restores the mtime (touch -r, cp -p, rsync -t) still moves the ctime,
// which no call sets back (short of changing the system clock). An entry is
// written only when the file's identity did not change while it was read,
// and its last change is more than 2 s old (racyWindow: file times come
// from a coarse clock, so a change right after a hash could leave them
// equal).
//
// The cache is an optimization: an entry that cannot be read or written
// is ignored, and the digest is computed from the bytes.
package digest
