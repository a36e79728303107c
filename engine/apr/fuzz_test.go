package apr_test

import (
	"encoding/binary"
	"testing"

	"github.com/falsify/falsify/engine/apr"
)

// FuzzParse feeds arbitrary bytes to the reader: it must return a File or
// an error, never panic, and a File it returns must have every tensor view
// inside the input with the size its dtype and dims call for. Since the
// header and footer CRCs reject nearly every mutation, the fuzz function
// re-signs the input before parsing half of the time, so the fuzzer reaches
// the index and metadata parsers. Seeds: the small all-dtypes file, the
// same re-signed with a broken field, and bare headers.
//
//	go test ./engine/apr -run '^$' -fuzz FuzzParse -fuzztime 60s -parallel 1
func FuzzParse(f *testing.F) {
	small := smallFile(f)
	f.Add(small, false)
	f.Add(small, true)
	broken := append([]byte(nil), small...)
	binary.LittleEndian.PutUint32(broken[8:], 1000) // tensor_count
	f.Add(broken, true)
	f.Add(small[:64], true)
	f.Add([]byte("APR\x00\x02\x00"), false)
	f.Add([]byte("APR1"), false)
	f.Fuzz(func(t *testing.T, data []byte, sign bool) {
		if sign && len(data) >= apr.HeaderSize+apr.FooterSize {
			data = resign(append([]byte(nil), data...))
		}
		file, err := apr.Parse("fuzz.apr", data)
		if err != nil {
			return
		}
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			want, err := ti.DType.ByteSize(ti.Dims)
			if err != nil || want != ti.Size {
				t.Fatalf("tensor %q: size %d, dtype says %d (%v)", ti.Name, ti.Size, want, err)
			}
			if v := file.Data(ti); uint64(len(v)) != ti.Size {
				t.Fatalf("tensor %q view %d bytes, size %d", ti.Name, len(v), ti.Size)
			}
			if ti.Elements() <= 1<<16 {
				if _, err := file.Float32(ti); err != nil {
					t.Fatalf("tensor %q: %v", ti.Name, err)
				}
			}
		}
		if _, err := file.Metadata.Config(); err != nil {
			return
		}
	})
}
