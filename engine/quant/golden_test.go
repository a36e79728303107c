package quant_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
)

// goldenDequant is fixtures golden/dequant/<model>.json: for every tensor,
// the sha256 of the little-endian float32 bytes ggml's own to_float
// produced (llama.cpp v0.4.0 of node-llama-cpp 3.21.1), and its first values.
type goldenDequant struct {
	Tensors []struct {
		Name      string    `json:"name"`
		GGMLType  uint32    `json:"ggml_type"`
		NE        []uint64  `json:"ne"`
		F32SHA256 string    `json:"f32_sha256"`
		First     []float64 `json:"first"`
	} `json:"tensors"`
}

// Every tensor of every fixture model dequantizes to exactly the float32
// bytes ggml produced. A plain clone checks the core models in testdata/;
// with ../shared/fixtures all 13 are checked.
func TestDequantizeGoldenModels(t *testing.T) {
	models := fixture.Glob("models/qwen2-tiny-*.gguf")
	if len(models) == 0 {
		t.Skip("no fixture models in testdata/ or ../shared/fixtures")
	}
	total := 0
	types := map[quant.Type]int{}
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".gguf")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(fixture.Require(t, "golden/dequant/"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var golden goldenDequant
			if err := json.Unmarshal(raw, &golden); err != nil {
				t.Fatalf("golden/dequant/%s.json: %v", name, err)
			}
			if len(golden.Tensors) == 0 {
				t.Fatalf("golden/dequant/%s.json lists no tensors", name)
			}
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, g := range golden.Tensors {
				ti, ok := f.Tensor(g.Name)
				if !ok {
					t.Errorf("%s: tensor %q missing", name, g.Name)
					continue
				}
				if uint32(ti.Type) != g.GGMLType || len(ti.Dims) == 0 {
					t.Errorf("%s: type %s dims %v, ggml says type %d", g.Name, ti.Type, ti.Dims, g.GGMLType)
					continue
				}
				sum, first, err := dequantHash(ti.Type, int(ti.Dims[0]), f.Data(ti))
				if err != nil {
					t.Errorf("%s: %v", g.Name, err)
					continue
				}
				if sum != g.F32SHA256 {
					t.Errorf("%s (%s %v): sha256 %s, ggml %s; first values %v, ggml %v", g.Name, ti.Type, ti.Dims, sum, g.F32SHA256, first, g.First)
					continue
				}
				total++
				types[ti.Type]++
			}
		})
	}
	t.Logf("%d tensors of %d models bit-identical to ggml's to_float; block types: %v", total, len(models), types)
}

// dequantHash dequantizes a tensor row by row (rows of cols elements) and
// returns the sha256 of its float32 little-endian bytes and its first values.
func dequantHash(t quant.Type, cols int, data []byte) (string, []float32, error) {
	rowBytes, err := quant.RowSize(t, int64(cols))
	if err != nil {
		return "", nil, err
	}
	h := sha256.New()
	row := make([]float32, cols)
	buf := make([]byte, 4*cols)
	var first []float32
	for off := 0; off < len(data); off += int(rowBytes) {
		end := off + int(rowBytes)
		if end > len(data) {
			end = len(data) // DequantizeRow reports the short row
		}
		if err := quant.DequantizeRow(t, row, data[off:end]); err != nil {
			return "", nil, err
		}
		for i, v := range row {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		h.Write(buf)
		if first == nil {
			first = append([]float32(nil), row[:min(8, cols)]...)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), first, nil
}
