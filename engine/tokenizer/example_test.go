package tokenizer_test

import (
	"fmt"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/tokenizer"
)

func ExampleFromGGUF() {
	f, err := gguf.Open("../../testdata/models/qwen2-tiny-q8_0.gguf")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f.Metadata)
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.Encode("What is 2+2?", tokenizer.EncodeOptions{})
	fmt.Println(ids)
	fmt.Println(tok.Decode(ids))
	// Output:
	// [3838 374 220 17 10 17 30]
	// What is 2+2?
}
