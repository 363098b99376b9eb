package manifest

import (
	"slices"
	"testing"
)

func TestParseDriver(t *testing.T) {
	m, err := Parse([]byte(`name = "camera"
version = "1.0.0"
kind = "driver"

[driver]
resources = ["/dev/video0"]

[exports.snapshot]
args = "bytes"
result = "bytes"

[capabilities]
devices = ["clock-chip"]
`), "orbital.toml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindDriver || !slices.Equal(m.Driver.Resources, []string{"/dev/video0"}) {
		t.Errorf("driver = %+v", m.Driver)
	}
	if _, ok := m.Exports["snapshot"]; !ok || len(m.ExportList()) != 1 {
		t.Errorf("exports = %v", m.Exports)
	}
	if !slices.Equal(m.Capabilities.Devices, []string{"clock-chip"}) {
		t.Errorf("devices = %v", m.Capabilities.Devices)
	}
}
