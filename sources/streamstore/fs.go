package streamstore

import (
	"io"
	"os"
	"path/filepath"
)

// FS is the file system the store writes through, so that tests can inject
// short writes, fsync failures and corruption.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	RemoveAll(name string) error
	MkdirAll(name string, perm os.FileMode) error
	ReadDir(name string) ([]string, error)
	// Rename replaces newpath with oldpath; with sync, durably (the
	// directory is fsynced).
	Rename(oldpath, newpath string, sync bool) error
}

// File is an open file. Writes append; ReadAt reads anywhere.
type File interface {
	io.Writer
	io.ReaderAt
	Sync() error
	Truncate(size int64) error
	Size() (int64, error)
	Close() error
}

// OSFS is the real file system.
type OSFS struct{}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// OpenFile opens a file.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove removes a file.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// RemoveAll removes a tree.
func (OSFS) RemoveAll(name string) error { return os.RemoveAll(name) }

// MkdirAll creates directories, and syncs the parent so the entry is durable.
func (OSFS) MkdirAll(name string, perm os.FileMode) error {
	if err := os.MkdirAll(name, perm); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(name)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Rename renames a file, and with sync fsyncs its directory.
func (OSFS) Rename(oldpath, newpath string, sync bool) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	if sync {
		d, err := os.Open(filepath.Dir(newpath))
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Sync()
	}
	return nil
}

// ReadDir lists the names in a directory.
func (OSFS) ReadDir(name string) ([]string, error) {
	es, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name()
	}
	return out, nil
}
