package contracts

import (
	"fmt"
	"slices"
	"strings"
)

// walkRequires is the one depth-first walk of the requires graph (Order,
// Prerequisites and Validate use it). From each root in turn it visits
// every test the root requires, transitively, before the root, and calls
// done(t) once per test after everything t requires is done; requires
// entries naming no test are skipped, and a test is known by the first
// test of its id. For each requires edge that closes a cycle it calls
// cycle with the tests on the cycle, from the one required again. The
// walk stops when done or cycle returns false.
func (c *Contract) walkRequires(roots []*FalsificationTest, done func(t *FalsificationTest) bool, cycle func(ids []string) bool) {
	index := c.testIndex()
	const (
		unseen = iota
		visiting
		finished
	)
	state := map[*FalsificationTest]int{}
	var stack []string
	var visit func(t *FalsificationTest) bool
	visit = func(t *FalsificationTest) bool {
		state[t] = visiting
		stack = append(stack, t.ID)
		for _, r := range t.Requires {
			dep, ok := index[r]
			if !ok {
				continue
			}
			switch state[dep] {
			case unseen:
				if !visit(dep) {
					return false
				}
			case visiting:
				if !cycle(slices.Clone(stack[slices.Index(stack, dep.ID):])) {
					return false
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[t] = finished
		return done(t)
	}
	for _, t := range roots {
		if state[t] == unseen && !visit(t) {
			return
		}
	}
}

// testIndex maps each test id to the first test of that id (the empty id
// is no id).
func (c *Contract) testIndex() map[string]*FalsificationTest {
	index := map[string]*FalsificationTest{}
	for i := range c.FalsificationTests {
		t := &c.FalsificationTests[i]
		if _, dup := index[t.ID]; !dup && t.ID != "" {
			index[t.ID] = t
		}
	}
	return index
}

// Order returns the falsification tests in an order where every test
// comes after the tests it requires, otherwise in file order, so a harness
// can judge each gate once its preconditions have verdicts. It fails on a
// requires cycle (Validate reports it with its line); requires entries
// naming no test are ignored here (Validate reports those too).
func (c *Contract) Order() ([]*FalsificationTest, error) {
	roots := make([]*FalsificationTest, len(c.FalsificationTests))
	for i := range c.FalsificationTests {
		roots[i] = &c.FalsificationTests[i]
	}
	return c.ordered(roots)
}

// Prerequisites returns the tests the test with the given id requires,
// transitively, in an order where each comes after those it requires,
// followed by the test itself. It fails for an unknown id and on a
// requires cycle.
func (c *Contract) Prerequisites(id string) ([]*FalsificationTest, error) {
	t, ok := c.testIndex()[id]
	if !ok {
		return nil, fmt.Errorf("contract %s has no falsification test %s", c.ID, id)
	}
	return c.ordered([]*FalsificationTest{t})
}

func (c *Contract) ordered(roots []*FalsificationTest) ([]*FalsificationTest, error) {
	var out []*FalsificationTest
	var err error
	c.walkRequires(roots,
		func(t *FalsificationTest) bool { out = append(out, t); return true },
		func(ids []string) bool {
			err = fmt.Errorf("contract %s: %w: requires cycle %s -> %s", c.Path, ErrInvalid, strings.Join(ids, " -> "), ids[0])
			return false
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UsedSubjects returns the subjects that the contract's gates read, plus
// the subjects they are converted from, in file order: what a harness must
// run (once each) to judge every gate.
func (c *Contract) UsedSubjects() []*Subject {
	used := map[string]bool{}
	var mark func(name string)
	mark = func(name string) {
		s, ok := c.Subject(name)
		if !ok || used[name] {
			return
		}
		used[name] = true
		if s.From != "" {
			mark(s.From)
		}
	}
	for _, t := range c.FalsificationTests {
		if t.Gate != nil && t.Gate.Params != nil {
			for _, name := range t.Gate.Params.SubjectNames() {
				mark(name)
			}
		}
	}
	var out []*Subject
	for i := range c.Subjects {
		if used[c.Subjects[i].Name] {
			out = append(out, &c.Subjects[i])
		}
	}
	return out
}
