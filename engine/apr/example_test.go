package apr_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/engine/gguf"
)

// Converting a GGUF model as aprender's importer does, then reading the
// APR file back.
func ExampleFromGGUF() {
	g, err := gguf.Open("../../testdata/models/qwen2-tiny-q6_k.gguf")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()
	w, rep, err := apr.FromGGUF(g)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "apr-example")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "model.apr")
	if _, err := w.WriteFile(out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("fallback to F32:", rep.Fallback, "tied embeddings:", rep.TiedEmbeddings)

	f, err := apr.Open(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	q, _ := f.Tensor("model.layers.0.self_attn.q_proj.weight")
	src, _ := g.Tensor("blk.0.attn_q.weight")
	fmt.Println(q.DType, q.Dims, "from", src.Type, src.Dims, "same bytes:", bytes.Equal(f.Data(q), g.Data(src)))
	c, _ := f.Metadata.Config()
	fmt.Println(c.Architecture, c.NumLayers, "layers, hidden", c.HiddenSize)
	// Output:
	// fallback to F32: false tied embeddings: true
	// Q6_K [256 256] from Q6_K [256 256] same bytes: true
	// qwen2 4 layers, hidden 256
}

// Writing a small file by hand.
func ExampleWriter() {
	w := apr.NewWriter()
	w.Metadata().Set("model_type", "linear_regression")
	w.Metadata().Set("param_count", 3)
	w.AddTensor("weights", apr.F32, []uint64{3}, make([]byte, 12))
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := apr.Parse("mem.apr", buf.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	t, _ := f.Tensor("weights")
	fmt.Println(n, "bytes;", f.Header.Flags, t.DType, t.Dims, "at file offset", f.Header.DataOffset+t.Offset)
	// Output:
	// 260 bytes; LAYOUT_ROW_MAJOR F32 [3] at file offset 192
}
