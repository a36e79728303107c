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
func (q *mergeQueue[P]) Push(x any)         { q.items = append(q.items, x.(P)) }
func (q *mergeQueue[P]) Pop() any {
	last := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return last
}

// push queues p.
func (q *mergeQueue[P]) push(p P) { heap.Push(q, p) }

// pop removes and returns the first candidate; the queue must not be
// empty.
func (q *mergeQueue[P]) pop() P { return heap.Pop(q).(P) }

// reset empties the queue, keeping its storage, and sets its order.
func (q *mergeQueue[P]) reset(before func(a, b *P) bool) { q.items, q.before = q.items[:0], before }
