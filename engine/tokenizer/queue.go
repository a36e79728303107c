package tokenizer

import "container/heap"

// mergeQueue is the priority queue of candidate merges both tokenizers
// use (llama.cpp's llm_bigram_bpe / llm_bigram_spm queues): a
// container/heap ordered by before, which must be a strict total order
// (rank or score, then the leftmost position) so the merge order, and so
// the tokens, do not depend on the heap's layout.
type mergeQueue[P any] struct {
	items  []P
	before func(a, b *P) bool
}

func (q *mergeQueue[P]) Len() int           { return len(q.items) }
func (q *mergeQueue[P]) Less(i, j int) bool { return q.before(&q.items[i], &q.items[j]) }
func (q *mergeQueue[P]) Swap(i, j int)      { q.items[i], q.items[j] = q.items[j], q.items[i] }

// Push and Pop complete heap.Interface; push and pop above avoid them.
func (q *mergeQueue[P]) Push(x any) { q.items = append(q.items, x.(P)) }
func (q *mergeQueue[P]) Pop() any {
	last := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return last
}

// push queues p. It appends and lets heap.Fix sift it up, which is what
// heap.Push does, without boxing p in an interface (an allocation per
// candidate).
func (q *mergeQueue[P]) push(p P) {
	q.items = append(q.items, p)
	heap.Fix(q, len(q.items)-1)
}

// pop removes and returns the first candidate; the queue must not be
// empty. Like heap.Pop it moves the last element to the top and sifts it
// down (heap.Fix), without boxing the result.
func (q *mergeQueue[P]) pop() P {
	n := len(q.items) - 1
	top := q.items[0]
	q.items[0] = q.items[n]
	q.items = q.items[:n]
	if n > 0 {
		heap.Fix(q, 0)
	}
	return top
}

// reset empties the queue, keeping its storage, and sets its order.
func (q *mergeQueue[P]) reset(before func(a, b *P) bool) { q.items, q.before = q.items[:0], before }
