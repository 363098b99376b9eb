package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestLuma(t *testing.T) {
	for _, tt := range []struct {
		r, g, b, want byte
	}{
		{0, 0, 0, 0}, {255, 255, 255, 255}, {255, 0, 0, 76}, {0, 255, 0, 150}, {0, 0, 255, 29}, {128, 128, 128, 128},
	} {
		if got := luma(tt.r, tt.g, tt.b); got != tt.want {
			t.Errorf("luma(%d, %d, %d) = %d, want %d", tt.r, tt.g, tt.b, got, tt.want)
		}
	}
}

func TestFunctions(t *testing.T) {
	px := []byte{255, 255, 255, 255, 0, 0, 0, 255, 255, 0, 0, 0, 255, 0, 0, 9}
	gray, err := grayscale(px)
	if err != nil || !bytes.Equal(gray, []byte{255, 0, 76, 76}) {
		t.Fatalf("grayscale = %v, %v", gray, err)
	}
	h, err := histogram(px)
	if err != nil || h[255] != 1 || h[0] != 1 || h[76] != 2 {
		t.Fatalf("histogram = %v, %v", h, err)
	}
	if js, _ := json.Marshal(h); bytes.Count(js, []byte(",")) != 255 {
		t.Fatalf("histogram JSON %s", js)
	}
	b, err := measure(px)
	if err != nil || b != (Brightness{Mean: 101.75, Min: 0, Max: 255}) {
		t.Fatalf("brightness = %+v, %v", b, err)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, make([]byte, 9)} {
		want := "want RGBA pixels, got " + map[int]string{0: "0", 3: "3", 9: "9"}[len(bad)] + " bytes"
		if _, err := grayscale(bad); err == nil || err.Error() != want {
			t.Errorf("grayscale(%d bytes): %v, want %q", len(bad), err, want)
		}
		if _, err := measure(bad); err == nil || err.Error() != want {
			t.Errorf("brightness(%d bytes): %v", len(bad), err)
		}
	}
}
