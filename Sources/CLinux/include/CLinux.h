#ifndef ENI_CLINUX_H
#define ENI_CLINUX_H

// Linux system calls that Swift's Glibc module does not offer, from the system's own headers.
#include <sys/signalfd.h>   // signalfd(2), struct signalfd_siginfo: the daemon's signals
#include <linux/sched.h>    // CLONE_NEWNET

// setns(2): <sched.h> declares it only under _GNU_SOURCE, which Swift's Glibc module is not built
// with; linux.c includes it with _GNU_SOURCE and calls it.
int eni_setns(int fd, int nstype);

#endif
