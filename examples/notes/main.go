// Command notes is the file-system example. Its manifest grants exactly one
// directory, /data (read-write). It
//
//  1. lists /data,
//  2. appends a line (its arguments, or a default) to /data/notes.txt,
//  3. prints the whole file, and then
//  4. tries to escape the sandbox and reports whether each attempt was
//     denied (every one should be).
//
// The exit status is 0 when every escape attempt was denied and 2 when any
// of them reached a file outside /data.
package main

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

const (
	dataDir = "/data"
	notes   = dataDir + "/notes.txt"
	link    = dataDir + "/escape"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "notes: %v\n", err)
		os.Exit(1)
	}
	if escaped > 0 {
		fmt.Fprintf(os.Stderr, "notes: %d escape attempt(s) SUCCEEDED\n", escaped)
		os.Exit(2)
	}
}

func run() error {
	// 1. List the granted directory.
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return err // *fs.PathError names the path
	}
	fmt.Printf("%s (%d entries):\n", dataDir, len(entries))
	for _, e := range entries {
		fmt.Printf("  %s\n", describe(e))
	}

	// 2. Append one line.
	line := "a note from orbital"
	if len(os.Args) > 1 {
		line = strings.Join(os.Args[1:], " ")
	}
	f, err := os.OpenFile(notes, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}

	// 3. Print it back.
	data, err := os.ReadFile(notes)
	if err != nil {
		return err
	}
	fmt.Printf("%s:\n%s", notes, data)

	// 4. Try to get out.
	fmt.Println("escape attempts:")
	escapes()
	return nil
}

// escaped counts escape attempts that reached something outside /data.
var escaped int

// attempt reports the outcome of one escape attempt. A nil error means the
// guest read a file outside its grant.
func attempt(what string, err error) {
	if err != nil {
		fmt.Printf("  %-45s denied (%v)\n", what, err)
		return
	}
	escaped++
	fmt.Printf("  %-45s ALLOWED: sandbox escape!\n", what)
}

func escapes() {
	// a) The obvious one. Go's wasip1 runtime cleans this path to
	//    /etc/passwd before any host call, and no preopen covers /etc.
	_, err := os.ReadFile(dataDir + "/../../etc/passwd")
	attempt(`open "/data/../../etc/passwd"`, err)

	// b) The same, but with ".." handed to the host unchanged: path_open
	//    relative to the /data directory descriptor. Only the host's path
	//    resolution stands in the way here.
	err = openAt(dataDir, "../../etc/passwd")
	attempt(`path_open(/data, "../../etc/passwd")`, err)

	// c) A symlink that points out of the sandbox. Creating it may be
	//    allowed (a link is just data); following it must not be.
	_ = os.Remove(link) // leftover from an earlier run
	if err := os.Symlink("../..", link); err != nil {
		fmt.Printf("  %-45s denied (%v)\n", `symlink /data/escape -> ../..`, err)
	} else {
		fmt.Printf("  %-45s created (only following it matters)\n", `symlink /data/escape -> ../..`)
		defer os.Remove(link)
	}
	_, err = os.ReadFile(link + "/etc/passwd")
	attempt(`open "/data/escape/etc/passwd"`, err)

	err = openAt(dataDir, "escape/etc/passwd")
	attempt(`path_open(/data, "escape/etc/passwd")`, err)
}

// openAt opens path relative to the directory dir with the raw WASI
// path_open call (no guest-side path cleaning). A successful open of a file
// outside the grant is already an escape, so nothing is read.
func openAt(dir, path string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	fd, err := syscall.Openat(int(d.Fd()), path, syscall.O_RDONLY, 0)
	if err != nil {
		return &fs.PathError{Op: "path_open", Path: path, Err: err}
	}
	return syscall.Close(fd)
}

func describe(e os.DirEntry) string {
	switch {
	case e.Type()&fs.ModeSymlink != 0:
		return e.Name() + "@"
	case e.IsDir():
		return e.Name() + "/"
	}
	return e.Name()
}
