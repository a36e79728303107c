package contracts

import (
	"fmt"
)

// Layers selects layers: every layer of the model, or a list.
type Layers struct {
	All  bool
	List []int // when !All, in file order
}

// AllLayers is the "all" selection.
var AllLayers = Layers{All: true}

// Select returns the selected layer indices for a model with n layers,
// and the listed layers that do not exist in it.
func (l Layers) Select(n int) (layers, missing []int) {
	if l.All {
		layers = make([]int, n)
		for i := range layers {
			layers[i] = i
		}
		return layers, nil
	}
	for _, i := range l.List {
		if i < 0 || i >= n {
			missing = append(missing, i)
			continue
		}
		layers = append(layers, i)
	}
	return layers, missing
}

func (l Layers) String() string {
	if l.All {
		return "all"
	}
	return fmt.Sprint(l.List)
}
