//go:build !wasip1

package orbital

// Outside wasip1 the kernel opens no listeners.
func listenerFds() []int32 { return nil }

func setNonblock(int32) error { return nil }
