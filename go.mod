module github.com/orbitalfoundation/orbital

go 1.25.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/Masterminds/semver/v3 v3.5.0
	github.com/google/go-containerregistry v0.21.6
	github.com/opencontainers/go-digest v1.0.0
	github.com/opencontainers/image-spec v1.1.1
	github.com/robfig/cron/v3 v3.0.1
	github.com/tetratelabs/wazero v1.12.0
	go.etcd.io/bbolt v1.4.3
	golang.org/x/sys v0.44.0
	oras.land/oras-go/v2 v2.6.2
)

require golang.org/x/sync v0.22.0 // indirect
