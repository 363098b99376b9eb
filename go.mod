module github.com/orbitalfoundation/orbital

go 1.25.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/Masterminds/semver/v3 v3.5.0
	github.com/tetratelabs/wazero v1.12.0
	golang.org/x/sys v0.44.0
)
