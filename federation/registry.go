package federation

import (
	"fmt"
	"slices"
)

// Registry holds the configured connectors by id.
type Registry struct {
	byID  map[string]Connector
	order []string
}

// NewRegistry checks that connector ids are unique and not empty.
func NewRegistry(cs ...Connector) (*Registry, error) {
	r := &Registry{byID: map[string]Connector{}}
	for i, c := range cs {
		id := c.ID()
		if id == "" {
			return nil, fmt.Errorf("connector %d: empty id", i)
		}
		if _, dup := r.byID[id]; dup {
			return nil, fmt.Errorf("connector %q: id used twice", id)
		}
		r.byID[id] = c
		r.order = append(r.order, id)
	}
	return r, nil
}

// Get returns the connector with this id.
func (r *Registry) Get(id string) (Connector, bool) {
	c, ok := r.byID[id]
	return c, ok
}

// IDs lists the connector ids in configuration order.
func (r *Registry) IDs() []string { return slices.Clone(r.order) }
