package contracts

import (
	"fmt"
	"strings"
)

// Order returns the falsification tests in an order where every test
// comes after the tests it requires, otherwise in file order, so a harness
// can judge each gate once its preconditions have verdicts. It fails on a
// requires cycle (Validate reports it with its line); requires entries
// naming no test are ignored here (Validate reports those too).
func (c *Contract) Order() ([]*FalsificationTest, error) {
	index := map[string]*FalsificationTest{}
	for i := range c.FalsificationTests {
		t := &c.FalsificationTests[i]
		if _, dup := index[t.ID]; !dup {
			index[t.ID] = t
		}
	}
	var out []*FalsificationTest
	state := map[*FalsificationTest]int{} // 1 visiting, 2 done
	var visit func(t *FalsificationTest, path []string) error
	visit = func(t *FalsificationTest, path []string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("contract %s: %w: requires cycle %s -> %s", c.Path, ErrInvalid, strings.Join(path, " -> "), t.ID)
		case 2:
			return nil
		}
		state[t] = 1
		for _, r := range t.Requires {
			if dep, ok := index[r]; ok {
				if err := visit(dep, append(path, t.ID)); err != nil {
					return err
				}
			}
		}
		state[t] = 2
		out = append(out, t)
		return nil
	}
	for i := range c.FalsificationTests {
		if err := visit(&c.FalsificationTests[i], nil); err != nil {
			return nil, err
		}
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
