// Command camera-driver is the camera driver (package drivers/camera) as
// an out-of-process driver: the node starts it as a child process
// ([[driver]] exec = "…/camera-driver") and it speaks the driver wire
// protocol on the socket it inherits. Its manifest is
// camera-driver.orbital.toml beside it.
package main

import (
	"github.com/orbitalfoundation/orbital/drivers/camera"
	"github.com/orbitalfoundation/orbital/drivers/proc"
)

func main() { proc.Main(camera.Version, &camera.Driver{}) }
