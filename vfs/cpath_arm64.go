package vfs

import "golang.org/x/sys/unix"

// sysFstatat is the fstatat system call with struct stat as unix.Stat_t.
const sysFstatat = unix.SYS_FSTATAT
