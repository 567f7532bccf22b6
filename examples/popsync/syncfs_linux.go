//go:build linux && (amd64 || arm64 || 386 || arm || riscv64 || ppc64le || s390x || loong64)

package main

import (
	"os"
	"syscall"
)

// syncAll makes everything written to the file system holding the open directory dir
// durable with one syncfs(2), which costs one journal commit where an fsync per file costs
// one each. It reports false where it could not, and the caller fsyncs the files one by
// one. syncfs reports a write error of the file system once to each open file that was
// open when it happened (Linux 5.8 and later): a descriptor opened after another one has
// been told would not see it, so the caller keeps dir open from before its first write.
func syncAll(dir *os.File) (bool, error) {
	if _, _, e := syscall.Syscall(sysSyncfs, dir.Fd(), 0, 0); e != 0 {
		if e == syscall.ENOSYS {
			return false, nil
		}
		return false, e
	}
	return true, nil
}
