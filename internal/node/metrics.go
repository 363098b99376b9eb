package node

import "fmt"

// RegistryCounts reports how many module names and versions the device's
// registry holds (for the metrics endpoint; read from the index at each
// call, nothing is counted on the install path).
func (n *Node) RegistryCounts() (modules, versions int, err error) {
	list, err := n.reg.List()
	if err != nil {
		return 0, 0, fmt.Errorf("registry counts: %w", err)
	}
	for _, s := range list {
		versions += len(s.Versions)
	}
	return len(list), versions, nil
}
